# tests/data/inventory/difftest_yaml.py: differential test against Ansible's
# InventoryManager/VariableManager (needs ansible and python3-yaml; run with
# /usr/bin/python3): random YAML inventories over one or two sources with
# group_vars/ and host_vars/ files and directories; drover inventory --list
# hostvars and group children compared. Not part of make test.
# Usage: /usr/bin/python3 difftest_yaml.py path/to/drover SEED COUNT
import random, json, subprocess, sys, os, tempfile, yaml
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
DROVER = sys.argv[1]; seed0 = int(sys.argv[2]); N = int(sys.argv[3])
INTERNAL = {'ansible_diff_mode','ansible_config_file','ansible_facts','ansible_forks','ansible_inventory_sources','ansible_limit','ansible_playbook_python','ansible_run_tags','ansible_skip_tags','ansible_verbosity','ansible_version','inventory_dir','inventory_file','inventory_hostname','inventory_hostname_short','groups','group_names','omit','playbook_dir','ansible_check_mode'}
def val(r):
    return r.choice([1, 'x', True, None, [1, 2], {'k': r.randint(0, 3)}, 'yes', 2.5])
def group(r, depth, names, hosts):
    d = {}
    if r.random() < 0.6:
        d['hosts'] = {h: ({r.choice('abv'): val(r)} if r.random() < 0.5 else None) for h in r.sample(hosts, r.randint(1, 3))}
    if r.random() < 0.5:
        d['vars'] = {r.choice('abvp'): val(r) for _ in range(r.randint(1, 3))}
        if r.random() < 0.2: d['vars']['ansible_group_priority'] = r.randint(0, 4)
    if depth < 3 and r.random() < 0.6:
        d['children'] = {}
        for _ in range(r.randint(1, 2)):
            n = r.choice(names)
            if n in path_stack: continue
            path_stack.append(n)
            d['children'][n] = group(r, depth + 1, names, hosts)
            path_stack.pop()
    return d if d or r.random() < 0.5 else None
path_stack = []
fails = 0
for it in range(N):
    r = random.Random(seed0 + it)
    names = ['g%d' % i for i in range(6)]
    hosts = ['h%d' % i for i in range(8)]
    d = tempfile.mkdtemp()
    srcs = []
    for si in range(r.randint(1, 2)):
        sd = os.path.join(d, 's%d' % si); os.makedirs(sd)
        path_stack[:] = ['all']
        inv = {'all': group(r, 0, names, hosts) or {}}
        for _ in range(r.randint(0, 2)):
            n = r.choice(names); path_stack[:] = [n]
            inv[n] = group(r, 1, names, hosts)
        p = os.path.join(sd, 'inv.yml'); open(p, 'w').write(yaml.safe_dump(inv))
        srcs.append(p)
        for kind, ents in (('group_vars', names + ['all']), ('host_vars', hosts)):
            if r.random() < 0.6:
                os.makedirs(os.path.join(sd, kind))
                for e in r.sample(ents, 3):
                    style = r.choice(['.yml', '.yaml', '.json', '', 'dir'])
                    data = {r.choice('abvp'): val(r) for _ in range(r.randint(1, 3))}
                    if style == 'dir':
                        os.makedirs(os.path.join(sd, kind, e))
                        for f in ('1.yml', '2.json'):
                            open(os.path.join(sd, kind, e, f), 'w').write(json.dumps({r.choice('abvp'): val(r)}))
                    else:
                        open(os.path.join(sd, kind, e + style), 'w').write(json.dumps(data) if style == '.json' else yaml.safe_dump(data))
    loader = DataLoader()
    try:
        im = InventoryManager(loader=loader, sources=srcs)
    except Exception as e:
        print('ansible error', e); continue
    if len(im._inventory.processed_sources) < len(srcs): continue
    vm = VariableManager(loader=loader, inventory=im)
    args = []
    for s in srcs: args += ['-i', s]
    p = subprocess.run([DROVER, 'inventory'] + args + ['--list'], capture_output=True, text=True, cwd=d)
    if p.returncode != 0:
        print('== seed', seed0 + it, 'drover failed', p.stderr); fails += 1; continue
    dl = json.loads(p.stdout)
    hv = {}
    for h in im.get_hosts():
        v = vm.get_vars(host=h, include_hostvars=False, stage='all')
        v = {k: x for k, x in v.items() if k not in INTERNAL}
        if v: hv[h.name] = json.loads(json.dumps(v))
    if hv != dl['_meta']['hostvars']:
        fails += 1
        print('== seed', seed0 + it, 'hostvars differ', d)
        for h in sorted(set(hv) | set(dl['_meta']['hostvars'])):
            if hv.get(h) != dl['_meta']['hostvars'].get(h):
                print(' ', h, 'ansible', hv.get(h), 'drover', dl['_meta']['hostvars'].get(h))
    # group structure
    for g in im.groups.values():
        kids = [c.name for c in g.child_groups]
        dk = dl.get(g.name, {}).get('children', [])
        if kids != dk:
            print('== seed', seed0 + it, 'children of', g.name, kids, dk); fails += 1
print('fails', fails)
