/**
 * The script a bridge runs on an SSH machine for one attempt. It contains no
 * secret: environment values arrive on the channel's stdin (base64, one
 * NAME=value per line, then an empty line), so they never show in the remote
 * process list. The command gets stdin from /dev/null; the script keeps the
 * channel's stdin open and watches it: end of input (cancel, timeout, or the
 * bridge or its connection gone) stops every process that carries the
 * attempt's marker in its environment — also those that left the process
 * group or session (setsid, double fork).
 */
export function remoteScript(attemptId: string, command: string, killGraceSeconds: number): string {
  if (!/^[A-Za-z0-9-]+$/.test(attemptId)) throw new Error('attempt id must be alphanumeric');
  const quoted = `'${command.replaceAll("'", "'\\''")}'`;
  // Few forks on the way to the command: every fork costs about a millisecond.
  const script = [
    `id=${attemptId}`,
    `cmd=${quoted}`,
    'while IFS= read -r l && [ -n "$l" ]; do',
    '  case $l in',
    '    r\\ *) l=${l#r }; export "${l%%=*}=${l#*=}";;',
    '    b\\ *) l=${l#b }; v=$(printf %s "${l#*=}" | base64 -d; printf x); export "${l%%=*}=${v%x}";;',
    '  esac',
    'done',
    // The command runs in its own sh, started with the marker in its environment, so every
    // process it starts (subshells included) shows the marker in /proc/<pid>/environ.
    'RDC_ATTEMPT=$id sh -c "$cmd" </dev/null &',
    'cpid=$!',
    'stop() {',
    '  for sig in TERM KILL; do',
    '    kill -$sig $cpid 2>/dev/null',
    '    for p in /proc/[0-9]*; do',
    '      if tr "\\0" "\\n" 2>/dev/null < "$p/environ" | grep -qx "RDC_ATTEMPT=$id"; then kill -$sig "${p#/proc/}"; fi',
    '    done',
    `    [ $sig = TERM ] && sleep ${killGraceSeconds}`,
    '  done',
    '}',
    // The watcher carries no marker, so it never matches itself; once it is stopping, the
    // script's own exit must not interrupt it (TERM ignored). An asynchronous list gets
    // /dev/null as stdin unless told otherwise: it gets ours as fd 3.
    'exec 3<&0',
    '( while IFS= read -r _; do :; done <&3; trap "" TERM; stop 2>/dev/null ) &',
    'watcher=$!',
    'exec 3<&-',
    'wait $cpid',
    'rc=$?',
    'kill $watcher 2>/dev/null',
    'exit $rc',
  ].join('\n');
  return `sh -c '${script.replaceAll("'", "'\\''")}'`;
}

/**
 * The stdin preamble that carries the environment, one variable a line, then
 * an empty line: `r NAME=value` for a one-line value, `b NAME=<base64>` for
 * one with line breaks.
 */
export function envPreamble(env: Record<string, string>): string {
  const lines = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment name ${k}`);
    return /[\r\n]/.test(v) ? `b ${k}=${Buffer.from(v, 'utf8').toString('base64')}` : `r ${k}=${v}`;
  });
  return `${lines.join('\n')}${lines.length > 0 ? '\n' : ''}\n`;
}
