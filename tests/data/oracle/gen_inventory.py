#!/usr/bin/python3
# tests/data/oracle/gen_inventory.py: write inventory.json, Ansible's own
# answers for generated inventories, which tests/unit/inventory/
# test_inv_oracle.c holds drover to (so the suite needs no Ansible).
# Needs ansible-core 2.14 (Debian 12: apt-get install ansible-core); run
# through regen.sh. Cases, each from a fixed seed:
#   ini   random INI inventories and host patterns (the generator of
#         ../inventory/difftest_patterns.py), some with a line that makes
#         Ansible's INI reader refuse the file ("web1:", "---", "all:");
#   yaml  YAML inventories whose host variables are scalars drawn from
#         SCALARS (implicit typing, explicit tags, invalid dates);
#   json  JSON inventories with numbers, one past 64 bits in some.
# Each case records the file, and either "error": true (Ansible cannot
# read it) or "hostvars" (ansible-inventory --list's _meta) and
# "patterns": [pattern, hosts or null for an error, order_free].
import json, os, random, shutil, sys, tempfile
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', 'inventory'))
from difftest_patterns import gen, pats, INTERNAL
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
from ansible.utils.display import Display
Display().verbosity = -1

N_INI, N_YAML, N_JSON = 160, 120, 40
YAML_BAD_LINES = ['web1:', '---', 'all:', 'h0:', 'x[1:2]:', 'web1:22']
SCALARS = ['1', '1.0', '1e5', '1.5e+3', '-.5', '.5', '1_000', '0b1_0', '0755',
           '08', '0x1F', '1:30', '190:20:30.15', 'yes', 'Off', 'TRUE', '~',
           'null', '"q"', "'1e5'", '2001-12-14', '2001-02-30', '2000-02-29',
           '1900-02-29', '2001-12-14 21:59:43.10 -5', '2001-12-14t21:59:43Z',
           '2001-1-2', '!!float 1', '!!float 1e5', '!!float -1:30.5',
           '!!float 1_0.5', '!!float " 2 "', '!!float 0x10', '!!float 1e',
           '!!int 0o17', '!!int 0b101', '!!int 0b0b1', '!!int 1:30',
           '!!int "+-5"', '!!int abc', '!!int 08', '!!int 0x_1f', '!!int ""',
           '!!bool yEs', '!!bool maybe', '!!null x', '!!str 12',
           '!!timestamp 2001-12-14', '!!timestamp 2001-1-2 3:04:05.5 -0:30',
           '!!timestamp 2001-12-14 21:59:43 -00', '!!timestamp 2001-02-30',
           '!!timestamp 2001-12-14 25:00:00', '!!timestamp x']
JSON_NUMBERS = ['1e5', '-0', '2.5e-3', '1E+2', '0.1', '10', '-7', '"1e5"',
                '1.0', '[1, 0.5]']
BIG = '123456789012345678901234567890'


def ansible(path):
    """hostvars and the InventoryManager, or None when Ansible refuses."""
    loader = DataLoader()
    try:
        im = InventoryManager(loader=loader, sources=[path])
        if not im._inventory.processed_sources:
            return None, None
    except Exception:
        return None, None
    vm = VariableManager(loader=loader, inventory=im)
    hv = {}
    for h in im.get_hosts():
        v = vm.get_vars(host=h, include_hostvars=False, stage='all')
        v = {k: x for k, x in v.items() if k not in INTERNAL}
        v = json.loads(json.dumps(v, default=lambda o: list(o) if isinstance(
            o, (set, tuple)) else o.isoformat() if hasattr(o, 'isoformat') else str(o)))
        if v:
            hv[h.name] = v
    return hv, im


def case(name, fname, text, patterns=(), nested=False, fix=None):
    d = tempfile.mkdtemp()
    path = os.path.join(d, fname)
    with open(path, 'w') as f:
        f.write(text)
    hv, im = ansible(path)
    shutil.rmtree(d)
    c = {'name': name, 'file': fname, 'text': text}
    if hv is None:
        c['error'] = True
        return c
    if fix:
        fix(hv)
    c['hostvars'] = hv
    c['patterns'] = []
    for p in patterns:
        try:
            want = [h.name for h in im.get_hosts(p)]
        except Exception:
            want = None
        im.clear_pattern_cache()
        # Known difference (docs/inventory.md): below the first level
        # Ansible walks groups as a set, in an order that changes from run
        # to run; drover keeps declaration order. Such hosts are compared
        # as sets, and a subscript over them ([0], [1:]) is not compared.
        if nested and any(ch in p for ch in '[]'):
            continue
        c['patterns'].append([p, want, nested])
    return c


def main():
    out = os.path.join(here, 'inventory.json')
    cases = []
    for seed in range(N_INI):
        r = random.Random(seed)
        text, groups, hosts = gen(r)
        if r.random() < 0.15:
            lines = text.splitlines()
            lines.insert(r.randint(0, len(lines)), r.choice(YAML_BAD_LINES))
            text = '\n'.join(lines) + '\n'
        nested = '[' in text and ':children]' in text
        cases.append(case('ini-%d' % seed, 'hosts.ini', text,
                          pats(r, groups, hosts), nested))
    for seed in range(N_YAML):
        r = random.Random(10000 + seed)
        text = 'all:\n  hosts:\n    h1:\n'
        for i in range(r.randint(1, 4)):
            text += '      v%d: %s\n' % (i, r.choice(SCALARS))
        cases.append(case('yaml-%d' % seed, 'hosts.yml', text))
    for seed in range(N_JSON):
        r = random.Random(20000 + seed)
        vals = {'v%d' % i: r.choice(JSON_NUMBERS) for i in range(r.randint(1, 4))}
        big = r.random() < 0.5
        if big:
            vals['big'] = BIG
        text = '{"all": {"hosts": {"h1": {%s}}}}\n' % ', '.join(
            '"%s": %s' % kv for kv in sorted(vals.items()))

        def fix(hv, big=big):
            # Known difference: an integer past 64 bits stays its text.
            if big:
                hv['h1']['big'] = BIG
        cases.append(case('json-%d' % seed, 'hosts.json', text, fix=fix))
    with open(out, 'w') as f:
        json.dump(cases, f, indent=None, separators=(',', ':'), sort_keys=True)
        f.write('\n')
    errs = sum(1 for c in cases if c.get('error'))
    npat = sum(len(c.get('patterns', [])) for c in cases)
    print('gen_inventory: %d cases (%d refused by Ansible), %d patterns' %
          (len(cases), errs, npat))


if __name__ == '__main__':
    main()
