-- tests/data/store/journal-v1.sql: a journal as drover wrote it with
-- schema version 1 (before the deploys table had its vars column), one
-- finished deploy in it. test_store_sqlite opens it with today's drover.
CREATE TABLE deploys (
 id TEXT PRIMARY KEY, plan TEXT NOT NULL, plan_file TEXT,
 inventory TEXT, lock TEXT, epoch INTEGER NOT NULL DEFAULT 0,
 version TEXT, previous_version TEXT, user TEXT, host TEXT,
 ticket TEXT, approver TEXT, reason TEXT, git_commit TEXT,
 git_tag TEXT, changes TEXT, state TEXT NOT NULL, result TEXT,
 rolled_back INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL,
 ended_ms INTEGER, updated_ms INTEGER NOT NULL);
CREATE INDEX deploys_plan ON deploys(plan, started_ms);
CREATE TABLE waves (
 deploy TEXT NOT NULL REFERENCES deploys(id), idx INTEGER NOT NULL,
 state TEXT NOT NULL, started_ms INTEGER, ended_ms INTEGER,
 PRIMARY KEY (deploy, idx));
CREATE TABLE hosts (
 deploy TEXT NOT NULL REFERENCES deploys(id), host TEXT NOT NULL,
 wave INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT,
 started_ms INTEGER, ended_ms INTEGER, updated_ms INTEGER,
 PRIMARY KEY (deploy, host));
CREATE TABLE steps (
 id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),
 host TEXT, wave INTEGER NOT NULL, phase TEXT NOT NULL,
 name TEXT NOT NULL, job_id TEXT, command TEXT,
 started_ms INTEGER NOT NULL, ended_ms INTEGER, outcome TEXT,
 exit_code INTEGER, signal INTEGER, output TEXT);
CREATE INDEX steps_deploy ON steps(deploy);
CREATE TABLE checks (
 id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),
 host TEXT, phase TEXT, name TEXT, verdict TEXT, status INTEGER,
 latency_ms INTEGER, reason TEXT, at_ms INTEGER NOT NULL);
CREATE INDEX checks_deploy ON checks(deploy);
CREATE TABLE prechecks (
 id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),
 name TEXT, host TEXT, ok INTEGER NOT NULL, evidence TEXT,
 at_ms INTEGER NOT NULL);
CREATE TABLE notes (
 id INTEGER PRIMARY KEY, deploy TEXT NOT NULL REFERENCES deploys(id),
 kind TEXT NOT NULL, text TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX notes_deploy ON notes(deploy, kind);
INSERT INTO deploys (id, plan, plan_file, inventory, lock, epoch, version,
 previous_version, user, host, state, result, started_ms, ended_ms,
 updated_ms) VALUES ('DEP-2026-11-22-001', 'sms', 'plans/sms.yml',
 'inv/prod.ini', 'sms', 4, '2.1.0', '2.0.3', 'ops', 'build1', 'done',
 'success', 1795341600000, 1795341660000, 1795341660000);
INSERT INTO waves VALUES ('DEP-2026-11-22-001', 0, 'done', 1795341600000,
 1795341660000);
INSERT INTO hosts VALUES ('DEP-2026-11-22-001', 'web1', 0, 'healthy', NULL,
 1795341600000, 1795341660000, 1795341660000);
INSERT INTO steps (deploy, host, wave, phase, name, job_id, command,
 started_ms, ended_ms, outcome, exit_code, signal, output) VALUES
 ('DEP-2026-11-22-001', 'web1', 0, 'deploy', 'switch',
 'DEP-2026-11-22-001/web1/deploy/0/1', 'ln -sfn x y', 1795341600000,
 1795341601000, 'ok', 0, 0, '');
PRAGMA user_version = 1;
