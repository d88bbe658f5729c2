#!/usr/bin/python3
# tests/data/oracle/gen_sshconfig.py: write sshconfig.json, what OpenSSH's
# own client (`ssh -G`, OpenSSH 9.2) makes of generated ~/.ssh/config
# files, which tests/unit/coordinator/test_sshconfig.c holds
# sshconfig_lookup to (so the suite needs no particular ssh). Run through
# regen.sh. Configs mix keyword spellings and forms, Host patterns with
# globs and negation, names in mixed case and numeric addresses,
# %-tokens, duplicate IdentityFiles and, now and then, a value ssh refuses
# (an empty one, a bad port). Each lookup records "error": true (ssh
# refuses the config for that alias) or the values drover models:
# hostname (ssh's canonical destination), user ("" when not set), port,
# identity (the IdentityFiles as written; [] when none), known_hosts (the
# first UserKnownHostsFile, expanded; "" when not set), strict, connect
# timeout and alive interval in seconds (0: not set), proxy (a ProxyJump
# or ProxyCommand in effect).
import json, os, pwd, random, subprocess, tempfile
here = os.path.dirname(os.path.abspath(__file__))
N = 150
ALIASES = ['web1', 'WEB1', 'Web1.Example.COM', 'LocalHost', 'localhost',
           'db', 'db.prod', 'x.y', '127.1', '127.000.000.001', 'FE80::1',
           '::FFFF:127.0.0.1', 'app', 'h_1-X']  # not bastion: ssh refuses a jump to itself
PATTERNS = ['web1', 'WEB1', 'web*', 'WEB*', '*.Example.COM', '*.example.com',
            'LocalHost', 'localhost', 'db*', '!db.prod', '!WEB1', '*', '?b',
            '127.*', 'x.?', '!x.y', 'FE80::1', 'h_1-X']
HOSTNAMES = ['Web1.Example.COM', 'LOCALHOST', '%h.Example', '%h', '127.1',
             '10.0.0.1', 'FE80::1', 'db.INTERNAL', '%%h-%h', 'X', '""']
VALUES = {
    'HostName': HOSTNAMES,
    'User': ['u1', 'Deploy', 'app', '""'],
    'Port': ['22', '2222', '2200', '0x10'],
    'IdentityFile': ['~/.ssh/k1', '~/.ssh/k2', '~/.ssh/%h', '%d/.ssh/%n',
                     '"~/.ssh/my key"', '/k/%h-%p', '""'],
    'UserKnownHostsFile': ['/kh/%h-%n-%k', '~/kh/%h %d/kh2', '/kh/%p-%%',
                           '/kh/plain'],
    'StrictHostKeyChecking': ['yes', 'no', 'accept-new', 'Yes', 'off'],
    'ConnectTimeout': ['5', '1m', '90s', '2h'],
    'ServerAliveInterval': ['0', '30', '1m30s'],
    'ProxyJump': ['bastion', 'none', 'u@b:2222'],
    'ProxyCommand': ['none', 'nc %h %p'],
}
SPELL = [lambda k: k, str.lower, str.upper]
FORMS = ['%s %s', '%s=%s', '%s = %s', '  %s\t%s']


def gen(r):
    lines = []
    for _ in range(r.randint(0, 2)):
        k = r.choice(list(VALUES))
        lines.append(r.choice(FORMS) % (r.choice(SPELL)(k), r.choice(VALUES[k])))
    for _ in range(r.randint(1, 5)):
        lines.append('Host ' + ' '.join(r.sample(PATTERNS, r.randint(1, 3))))
        for _ in range(r.randint(1, 5)):
            k = r.choice(list(VALUES))
            v = r.choice(VALUES[k])
            if v in ('""', '0x10') and r.random() < 0.7:
                v = VALUES[k][0]  # bad values now and then only
            lines.append('    ' + r.choice(FORMS) % (r.choice(SPELL)(k), v))
    if r.random() < 0.2:  # the same IdentityFile again and again
        lines.append('Host *')
        lines += ['    IdentityFile ~/.ssh/k1'] * r.randint(2, 6)
    return '\n'.join(lines) + '\n'


def ssh_g(path, alias, luser):
    p = subprocess.run(['ssh', '-G', '-F', path, '--', alias],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    rec = {'alias': alias}
    if p.returncode != 0:
        rec['error'] = True
        return rec
    opts = {}
    ids = []
    for line in p.stdout.splitlines():
        k, _, v = line.partition(' ')
        if k == 'identityfile':
            ids.append(v)
        else:
            opts.setdefault(k, v)
    defaults = ['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ecdsa_sk',
                '~/.ssh/id_ed25519', '~/.ssh/id_ed25519_sk', '~/.ssh/id_xmss',
                '~/.ssh/id_dsa']
    kh = opts['userknownhostsfile']
    home = pwd.getpwuid(os.getuid()).pw_dir
    rec.update({
        'hostname': opts['hostname'],
        'user': '' if opts['user'] == luser else opts['user'],
        'port': int(opts['port']),
        'identity': [] if ids == defaults else ids,
        'known_hosts': '' if kh == '%s/.ssh/known_hosts %s/.ssh/known_hosts2'
        % (home, home) else kh.split(' ')[0],
        'strict': opts['stricthostkeychecking'],
        'connect_timeout': 0 if opts['connecttimeout'] == 'none'
        else int(opts['connecttimeout']),
        'alive': int(opts['serveraliveinterval']),
        'proxy': 'proxyjump' in opts or 'proxycommand' in opts,
    })
    return rec


def main():
    luser = pwd.getpwuid(os.getuid()).pw_name
    home = pwd.getpwuid(os.getuid()).pw_dir
    d = tempfile.mkdtemp()
    cases = []
    for seed in range(N):
        r = random.Random(seed)
        text = gen(r)
        path = os.path.join(d, 'config')
        with open(path, 'w') as f:
            f.write(text)
        cases.append({'name': 'ssh-%d' % seed, 'config': text,
                      'lookups': [ssh_g(path, a, luser)
                                  for a in r.sample(ALIASES, 4)]})
    os.remove(os.path.join(d, 'config'))
    os.rmdir(d)
    out = {'ssh': subprocess.run(['ssh', '-V'], capture_output=True,
                                 text=True).stderr.strip(),
           'home': home, 'cases': cases}
    with open(os.path.join(here, 'sshconfig.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'), sort_keys=True)
        f.write('\n')
    n = sum(len(c['lookups']) for c in cases)
    bad = sum(1 for c in cases for l in c['lookups'] if l.get('error'))
    print('gen_sshconfig: %d configs, %d lookups (%d refused by ssh)' %
          (len(cases), n, bad))


if __name__ == '__main__':
    main()
