// The OS account the fleet's sshd processes let in. Not root: root's login shell here runs a slow
// profile (~0.5 s per SSH command) and sshd_config says PermitRootLogin no anyway. /bin/sh (dash)
// reads no startup files for `ssh host cmd`, so a command costs only the SSH handshake.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TEST_USER = 'rdctest';
export const TEST_USER_HOME = '/home/rdctest';
const TEST_USER_SHELL = '/bin/sh';
/** flock(1) lock file: a kernel lock, released even if the test process that held it is killed. */
const LOCK_FILE = '/run/lock/rediacc-fleet-user.lock';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function lookup(): { user?: TestUser; shell?: string; password?: string } {
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${TEST_USER}:`));
  if (passwd === undefined) return {};
  const [, , uid, gid, , home, shell] = passwd.split(':');
  const shadow = readFileSync('/etc/shadow', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${TEST_USER}:`));
  return {
    user: { name: TEST_USER, uid: Number(uid), gid: Number(gid), home: home ?? TEST_USER_HOME },
    shell,
    password: shadow?.split(':')[1],
  };
}

function ready(found: ReturnType<typeof lookup>): TestUser | undefined {
  // Password field '*': no password login possible, but not "locked" ('!'), which sshd with
  // UsePAM no treats as a reason to refuse even public-key logins.
  return found.shell === TEST_USER_SHELL && found.password === '*' ? found.user : undefined;
}

// Runs under the lock; every step checks first, so running it twice (or in parallel files, one
// after the other) changes nothing the second time.
const SETUP_SCRIPT = `
set -eu
u=${TEST_USER}
if ! getent passwd "$u" >/dev/null; then
  useradd --system --user-group --shell ${TEST_USER_SHELL} --home-dir ${TEST_USER_HOME} --create-home "$u"
fi
[ "$(getent passwd "$u" | cut -d: -f7)" = ${TEST_USER_SHELL} ] || usermod --shell ${TEST_USER_SHELL} "$u"
[ "$(getent shadow "$u" | cut -d: -f2)" = '*' ] || usermod --password '*' "$u"
if [ ! -d ${TEST_USER_HOME} ]; then mkdir -p ${TEST_USER_HOME}; chown "$u:" ${TEST_USER_HOME}; fi
`;

let pending: Promise<TestUser> | undefined;

/**
 * Creates the `rdctest` system user once (idempotent, serialised across parallel test files by a
 * file lock) and makes sure sshd's privilege-separation directory exists. Needs root.
 */
export function ensureTestUser(): Promise<TestUser> {
  pending ??= (async () => {
    // sshd refuses to start without its (root-owned, not group/world-writable) privsep chroot dir.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const fast = ready(lookup());
    if (fast !== undefined) return fast;
    if (process.getuid?.() !== 0) throw new Error('fleet: creating the test user needs root');
    mkdirSync('/run/lock', { recursive: true });
    await run('flock', ['-w', '30', LOCK_FILE, 'sh', '-c', SETUP_SCRIPT]);
    const done = ready(lookup());
    if (done === undefined) throw new Error(`fleet: test user ${TEST_USER} is not set up after useradd`);
    return done;
  })();
  // A failed attempt must not poison later calls (e.g. a lock timeout in one test file).
  pending.catch(() => {
    pending = undefined;
  });
  return pending;
}
