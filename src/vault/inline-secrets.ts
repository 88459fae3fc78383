/**
 * Finds what looks like a credential written into a command, so it can be
 * refused in favour of `--env NAME=vault:KEY`. Returns a short description of
 * the first finding (never the value itself), or null.
 */
const PATTERNS: { what: string; re: RegExp }[] = [
  { what: 'a private key block', re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { what: 'an AWS access key id', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { what: 'a GitHub token', re: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/ },
  { what: 'a Slack token', re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/ },
  { what: 'a Google API key', re: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { what: 'a Stripe secret key', re: /\bsk_live_[0-9A-Za-z]{16,}/ },
  {
    what: 'a password or token assignment',
    re: /\b[A-Za-z_]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\s*[=:]\s*(?!['"]?\$)['"]?[^\s'"$]{3,}/i,
  },
  // Option values only where the option surely means a password: `-p` is a port, a path flag or a
  // patch switch for most tools (mkdir -p, ssh -p 2222, docker run -p 8080:80, git log -p).
  {
    what: 'a password on the command line',
    re: /(?:^|\s)--password[= ](?!['"]?\$)['"]?[^\s'"$-][^\s'"]{2,}/,
  },
  {
    what: 'a password for sshpass',
    re: /\bsshpass\s+(?:-[a-oq-z]\S*\s+)*-p\s*(?!['"]?\$)['"]?[^\s'"$-][^\s'"]{2,}/,
  },
  {
    what: 'a password for a MySQL client',
    re: /\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^|;&]*\s-p(?!['"]?\$)['"]?[^\s'"$-][^\s'"]{2,}/,
  },
  { what: 'a password for redis-cli', re: /\bredis-cli\b[^|;&]*\s-a\s+(?!['"]?\$)['"]?[^\s'"$-][^\s'"]{2,}/ },
  {
    what: 'a user:password option',
    re: /\b(?:curl|wget)\b[^|;&]*\s(?:-u|--user)[= ]?['"]?[A-Za-z0-9._@-]+:(?!['"]?\$)[^\s'"]{3,}/,
  },
  { what: 'credentials in a URL', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@$]{3,}@/i },
];

export function findInlineSecret(command: string): string | null {
  for (const p of PATTERNS) if (p.re.test(command)) return p.what;
  return null;
}

/** Environment names that should come from the vault, not as plain values. */
export function looksSecretName(name: string): boolean {
  return /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY)/i.test(name);
}
