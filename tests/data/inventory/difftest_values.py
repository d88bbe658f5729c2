# tests/data/inventory/difftest_values.py: differential test of INI value
# typing against Python's ast.literal_eval (what Ansible uses): random
# literal-like strings in [all:vars], drover inventory --host compared.
# Usage: /usr/bin/python3 difftest_values.py path/to/drover SEED
import random, ast, json, subprocess, sys, math
DROVER = sys.argv[1]
r = random.Random(int(sys.argv[2]))
toks = ['0','1','9','12','0x1f','0o7','0b1','_','.','e','E','+','-','j','"','\'','[',']','(',')','{','}',',',':',' ','True','None','False','x','#','\\','\\n','b','r','u','f','1_0','inf','"a"',"'b'",'1e5','.5','5.','00','07']
vals = []
for i in range(3000):
    v = ''.join(r.choice(toks) for _ in range(r.randint(1, 6))).strip()
    if '\n' in v or not v: continue
    vals.append(v)
lines = ['h', '[all:vars]'] + ['k%d = %s' % (i, v) for i, v in enumerate(vals)]
open('t.ini', 'w').write('\n'.join(lines) + '\n')
p = subprocess.run([DROVER, 'inventory', '-i', 't.ini', '--host', 'h'], capture_output=True, text=True)
got = json.loads(p.stdout)
def conv(x):
    if isinstance(x, bool) or x is None or isinstance(x, str): return x
    if isinstance(x, int):
        if abs(x) >= 2**63: raise TypeError
        return x
    if isinstance(x, float):
        if math.isinf(x) or math.isnan(x): raise TypeError
        return x
    if isinstance(x, bytes): return x.decode()
    if isinstance(x, (list, tuple)): return [conv(y) for y in x]
    if isinstance(x, dict):
        out = {}
        for k, y in x.items():
            if isinstance(k, bool): ks = 'true' if k else 'false'
            elif k is None: ks = 'null'
            elif isinstance(k, (int, float, str)): ks = k if isinstance(k, str) else json.dumps(k)
            else: raise TypeError
            out[ks] = conv(y)
        return out
    raise TypeError
bad = 0
for i, v in enumerate(vals):
    try:
        x = ast.literal_eval(v)
        if isinstance(x, bytes): x = x.decode()
        try: want = conv(x)
        except Exception: continue   # not JSON-able: documented
    except Exception:
        want = v
    g = got.get('k%d' % i)
    if g != want or type(g) != type(want):
        # later duplicate keys: not applicable (unique)
        print(repr(v), 'python', repr(want), 'drover', repr(g)); bad += 1
print('bad', bad, 'of', len(vals))
