# tests/data/inventory/difftest_patterns.py: differential test against Ansible's own
# InventoryManager/VariableManager (needs ansible; run with /usr/bin/python3):
# random INI inventories and host patterns, drover inventory --list and
# --list-hosts compared with Ansible in-process. Not part of make test.
# Usage: /usr/bin/python3 difftest_patterns.py path/to/drover [SEED [COUNT]]
import random, json, subprocess, sys, os, tempfile
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
from ansible.utils.display import Display
Display().verbosity = -1
import logging
INTERNAL = {'ansible_diff_mode','ansible_config_file','ansible_facts','ansible_forks','ansible_inventory_sources','ansible_limit','ansible_playbook_python','ansible_run_tags','ansible_skip_tags','ansible_verbosity','ansible_version','inventory_dir','inventory_file','inventory_hostname','inventory_hostname_short','groups','group_names','omit','playbook_dir','ansible_check_mode','ansible_run_tags'}
VALUES = ['80', '-3', '0.5', '1e3', 'true', 'True', 'None', 'abc', "'q'", '"[1, 2]"', "\"{'a': 1}\"", '0x10', '1_0', '0123', '10.0.0.1', '(1,2)', '"a b"', "'x y'", '""', 'a#b', '[1,2]', '{}', '-0.0', "b'z'", '1,2']
def gen(r):
    ngroups = r.randint(1, 7)
    groups = ['g%d' % i for i in range(ngroups)] + r.sample(['web','db','all','ungrouped','prod'], r.randint(0, 2))
    hosts = ['h%d' % i for i in range(r.randint(1, 10))] + ['web', 'x.example.com']
    lines = []
    if r.random() < 0.5:
        for h in r.sample(hosts, r.randint(0, 2)):
            lines.append(h)
    declared = set()
    children = []
    for g in groups:
        kind = r.choice(['hosts', 'hosts', 'vars', 'children'])
        if kind == 'vars' and g not in declared:
            kind = 'hosts'
        if kind == 'children':
            kids = [k for k in r.sample(groups, min(len(groups), r.randint(1, 2))) if k != g and k not in ('all', 'ungrouped')]
            ok = True
            for k in kids:
                # avoid loops: only point "down" the list
                if groups.index(k) <= groups.index(g): ok = False
            if not ok or not kids:
                kind = 'hosts'
            else:
                lines.append('[%s:children]' % g)
                lines += kids
                declared.add(g)
                for k in kids:
                    children.append(k)
                continue
        if kind == 'hosts':
            lines.append('[%s]' % g); declared.add(g)
            for h in r.sample(hosts, min(len(hosts), r.randint(0, 4))):
                vs = ' '.join('%s=%s' % (r.choice('abcv'), r.choice(VALUES)) for _ in range(r.randint(0, 2)))
                port = (':%d' % r.randint(1, 3000)) if r.random() < 0.1 else ''
                lines.append(('%s%s %s' % (h, port, vs)).strip())
            if r.random() < 0.2:
                lines.append('r%d[1:%d]' % (r.randint(0, 3), r.randint(1, 3)))
        if kind == 'vars' or r.random() < 0.3:
            lines.append('[%s:vars]' % g)
            for _ in range(r.randint(1, 3)):
                lines.append('%s = %s' % (r.choice('abcv'), r.choice(VALUES)))
            if r.random() < 0.2:
                lines.append('ansible_group_priority=%d' % r.randint(0, 5))
    # every child must be declared
    for k in children:
        if k not in declared:
            lines.append('[%s]' % k); declared.add(k)
    return '\n'.join(lines) + '\n', groups, hosts
def pats(r, groups, hosts):
    terms = groups + hosts + ['all', '*', 'g*', 'h?', '~h[0-3]', 'ungrouped', 'nomatch', '*.example.com']
    out = []
    for _ in range(6):
        t = []
        for i in range(r.randint(1, 3)):
            x = r.choice(terms)
            pre = r.choice(['', '', '&', '!']) if i > 0 else r.choice(['', '', '', '!'])
            sub = r.choice(['', '', '', '[0]', '[-1]', '[1:2]', '[1:]'])
            if x.startswith('~'): sub = ''
            t.append(pre + x + sub)
        out.append(r.choice([':', ',']).join(t))
    return out
def drover(args):
    p = subprocess.run([DROVER, 'inventory'] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr
def main():
    global DROVER
    DROVER = sys.argv[1]
    seed0 = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    N = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    fails = 0
    for it in range(N):
        r = random.Random(seed0 + it)
        text, groups, hosts = gen(r)
        d = tempfile.mkdtemp()
        path = os.path.join(d, 'hosts')
        open(path, 'w').write(text)
        loader = DataLoader()
        try:
            im = InventoryManager(loader=loader, sources=[path])
            if not im._inventory.processed_sources:
                raise Exception('unparsed')
        except Exception as e:
            rc, out, err = drover(['-i', path, '--list'])
            if rc == 0:
                print('== seed', seed0 + it, 'ansible failed but drover ok:', e); print(text); fails += 1
            continue
        vm = VariableManager(loader=loader, inventory=im)
        rc, out, err = drover(['-i', path, '--list'])
        if rc != 0:
            print('== seed', seed0 + it, 'drover failed:', err); print(text); fails += 1; continue
        dl = json.loads(out)
        hv = {}
        for h in im.get_hosts():
            v = vm.get_vars(host=h, include_hostvars=False, stage='all')
            v = {k: x for k, x in v.items() if k not in INTERNAL}
            v = json.loads(json.dumps(v, default=lambda o: list(o) if isinstance(o, (set, tuple)) else str(o)))
            if v: hv[h.name] = v
        if hv != dl['_meta']['hostvars']:
            print('== seed', seed0 + it, 'hostvars differ'); print(text)
            for h in sorted(set(hv) | set(dl['_meta']['hostvars'])):
                if hv.get(h) != dl['_meta']['hostvars'].get(h):
                    print(' ', h, 'ansible', hv.get(h), 'drover', dl['_meta']['hostvars'].get(h))
            fails += 1
        nested = '[' in text and ':children]' in text
        for p in pats(r, groups, hosts):
            try:
                want = [h.name for h in im.get_hosts(p)]
                werr = None
            except Exception as e:
                want = None; werr = str(e)
            im.clear_pattern_cache()
            rc, out, err = drover(['-i', path, '--list-hosts', p])
            got = out.split()
            if want is None:
                if rc == 0:
                    print('== seed', seed0 + it, 'pattern', repr(p), 'ansible error', werr, 'drover', got); fails += 1
                continue
            if rc != 0:
                print('== seed', seed0 + it, 'pattern', repr(p), 'drover error', err.strip(), 'want', want); print(text); fails += 1; continue
            if got != want:
                if nested and sorted(got) == sorted(want) and not any(c in p for c in '[]'):
                    continue
                print('== seed', seed0 + it, 'pattern', repr(p), 'want', want, 'got', got); print(text); fails += 1
    print('fails', fails)
if __name__ == '__main__':
    main()
