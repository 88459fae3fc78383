// Command lines for established parallel-SSH tools, to benchmark rediacc against them on the same
// fleet: Debian's parallel-ssh (package pssh), pdsh (its ssh module) and ansible ad-hoc.
// These tools are not installed by .ci/run: benchmarks are not part of CI.
//
// All three read one generated ssh_config: pdsh has no way to give a port per host (its ssh
// module only substitutes %h, %u and %n), so each machine gets a `Host fleet-NN` block with its
// address, port and user, and a `Host *` block holds the shared client options.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet } from './types.js';

export type PeerTool = 'parallel-ssh' | 'pdsh' | 'ansible';

export interface PeerFiles {
  dir: string;
  /** ssh_config: a block per machine name plus shared client options. */
  sshConfig: string;
  /** parallel-ssh host file: one "user@host:port" per line (its native syntax). */
  psshHosts: string;
  /** Ansible INI inventory, group "fleet". */
  inventory: string;
  /** Minimal ansible.cfg, so no ansible.cfg found in the cwd or /etc changes the run. */
  ansibleConfig: string;
}

export interface PeerCommand {
  tool: PeerTool;
  argv: string[];
  /** Variables to add to the environment. */
  env: Record<string, string>;
}

/** The binary on PATH among `names` (Debian names parallel-ssh; upstream and others use pssh). */
export function findBinary(...names: string[]): string | undefined {
  return names.find((n) => spawnSync('sh', ['-c', `command -v ${n}`]).status === 0);
}

export function writePeerFiles(fleet: Fleet, dir: string): PeerFiles {
  mkdirSync(dir, { recursive: true });
  const files: PeerFiles = {
    dir,
    sshConfig: join(dir, 'ssh_config'),
    psshHosts: join(dir, 'pssh-hosts'),
    inventory: join(dir, 'inventory.ini'),
    ansibleConfig: join(dir, 'ansible.cfg'),
  };
  const blocks = fleet.machines.map((m) =>
    [`Host ${m.name}`, `  HostName ${m.host}`, `  Port ${m.port}`, `  User ${m.user}`].join('\n'),
  );
  const shared = [
    'Host *',
    `  IdentityFile ${fleet.clientKeyFile}`,
    '  IdentitiesOnly yes',
    '  StrictHostKeyChecking no',
    '  UserKnownHostsFile /dev/null',
    '  BatchMode yes',
    '  LogLevel ERROR',
    '  ConnectTimeout 10',
  ].join('\n');
  writeFileSync(files.sshConfig, `${blocks.join('\n')}\n${shared}\n`);
  writeFileSync(
    files.psshHosts,
    `${fleet.machines.map((m) => `${m.user}@${m.host}:${m.port}`).join('\n')}\n`,
  );
  const hosts = fleet.machines.map(
    (m) =>
      `${m.name} ansible_host=${m.host} ansible_port=${m.port} ansible_user=${m.user} ` +
      `ansible_ssh_private_key_file=${fleet.clientKeyFile}`,
  );
  const vars = [
    // Pinning the interpreter skips ansible's discovery round trip (and its warning).
    'ansible_python_interpreter=/usr/bin/python3',
    "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes'",
  ];
  writeFileSync(files.inventory, `[fleet]\n${hosts.join('\n')}\n\n[fleet:vars]\n${vars.join('\n')}\n`);
  const cfg = [
    '[defaults]',
    'host_key_checking = False',
    `local_tmp = ${join(dir, 'ansible-tmp')}`,
    'interpreter_python = /usr/bin/python3',
    '[ssh_connection]',
    // Default ssh_args (ControlMaster=auto, ControlPersist=60s); sockets kept in our directory.
    `control_path_dir = ${join(dir, 'ansible-cp')}`,
    '',
  ];
  writeFileSync(files.ansibleConfig, cfg.join('\n'));
  return files;
}

/** parallel-ssh -i -h hosts -p N -t 60 -X -F -X ssh_config CMD (hosts in its native user@host:port). */
export function psshCommand(
  fleet: Fleet,
  files: PeerFiles,
  command: string,
  binary = 'parallel-ssh',
): PeerCommand {
  const n = String(fleet.machines.length);
  // -X passes one ssh argument without word splitting (paths may contain spaces); -x would split.
  // -i: print each host's output inline (otherwise only "[SUCCESS] host" lines).
  const argv = [
    binary,
    '-i',
    '-h',
    files.psshHosts,
    '-p',
    n,
    '-t',
    '60',
    '-X',
    '-F',
    '-X',
    files.sshConfig,
    command,
  ];
  return { tool: 'parallel-ssh', argv, env: {} };
}

/**
 * pdsh -R ssh -f N -l USER -w fleet-01,fleet-02,… CMD with PDSH_SSH_ARGS="-F ssh_config -l%u %h".
 * Host names resolve through the ssh_config blocks (address + port); pdsh itself knows no ports.
 */
export function pdshCommand(fleet: Fleet, files: PeerFiles, command: string): PeerCommand {
  const names = fleet.machines.map((m) => m.name).join(',');
  const argv = [
    'pdsh',
    '-R',
    'ssh',
    '-f',
    String(fleet.machines.length),
    '-l',
    fleet.user,
    '-w',
    names,
    command,
  ];
  // Replaces pdsh's default "-2 -a -x -l%u %h"; %u and %h must stay or pdsh appends them again.
  return { tool: 'pdsh', argv, env: { PDSH_SSH_ARGS: `-F ${files.sshConfig} -l%u %h` } };
}

/** ANSIBLE_CONFIG=ansible.cfg ansible all -i inventory.ini -f N -o -m command -a CMD */
export function ansibleCommand(fleet: Fleet, files: PeerFiles, command: string): PeerCommand {
  const n = String(fleet.machines.length);
  const argv = ['ansible', 'all', '-i', files.inventory, '-f', n, '-o', '-m', 'command', '-a', command];
  return {
    tool: 'ansible',
    argv,
    env: { ANSIBLE_CONFIG: files.ansibleConfig, ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_NOCOLOR: '1' },
  };
}

/** A shell-pasteable rendering, for reports. */
export function describeCommand(cmd: PeerCommand): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  const env = Object.entries(cmd.env).map(([k, v]) => `${k}=${quote(v)}`);
  return [...env, ...cmd.argv.map(quote)].join(' ');
}

export interface PeerRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

export function runPeer(cmd: PeerCommand, timeoutMs = 120_000): Promise<PeerRun> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const [file, ...args] = cmd.argv;
    const child = spawn(file!, args, {
      env: { ...process.env, ...cmd.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, wallMs: Number(process.hrtime.bigint() - started) / 1e6 });
    });
  });
}
