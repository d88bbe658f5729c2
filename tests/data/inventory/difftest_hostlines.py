# tests/data/inventory/difftest_hostlines.py: differential test of INI host
# lines (shlex splitting, quotes, escapes, comments, value typing) against
# Ansible's InventoryManager (needs ansible; run with /usr/bin/python3).
# Usage: /usr/bin/python3 difftest_hostlines.py path/to/drover SEED
import random, json, subprocess, sys, os
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
DROVER = sys.argv[1]; r = random.Random(int(sys.argv[2]))
chars = ['a', 'b', '1', '0', ' ', '"', "'", '\\', '#', '=', '.', '[', ']', ',', ':', 'x=', ' y=', '\t', ';', '{', '}', 'True', '-']
bad = 0; tot = 0
for it in range(300):
    body = ''.join(r.choice(chars) for _ in range(r.randint(1, 12)))
    line = 'h k=' + body
    open('t.ini', 'w').write('[g]\n' + line + '\n')
    loader = DataLoader()
    try:
        im = InventoryManager(loader=loader, sources=['t.ini'])
        ok = bool(im._inventory.processed_sources)
    except Exception:
        ok = False
    p = subprocess.run([DROVER, 'inventory', '-i', 't.ini', '--list'], capture_output=True, text=True)
    tot += 1
    if not ok:
        if p.returncode == 0:
            print('ansible refused, drover accepted:', repr(line)); bad += 1
        continue
    if p.returncode != 0:
        print('drover refused, ansible accepted:', repr(line), p.stderr.strip()); bad += 1; continue
    vm = VariableManager(loader=loader, inventory=im)
    want = {}
    for h in im.get_hosts():
        v = vm.get_vars(host=h, include_hostvars=False, stage='all')
        v = {k: x for k, x in v.items() if k not in ('inventory_file','inventory_dir','inventory_hostname','inventory_hostname_short','groups','group_names','omit','playbook_dir','ansible_playbook_python','ansible_config_file','ansible_version','ansible_check_mode','ansible_diff_mode','ansible_forks','ansible_inventory_sources','ansible_verbosity','ansible_facts','ansible_limit','ansible_run_tags','ansible_skip_tags')}
        try: want[h.name] = json.loads(json.dumps(v))
        except Exception: want = None; break
    if want is None: continue
    got = json.loads(p.stdout)['_meta']['hostvars']
    want = {k: v for k, v in want.items() if v}
    if got != want:
        print('differ', repr(line), 'ansible', want, 'drover', got); bad += 1
print('bad', bad, 'of', tot)
