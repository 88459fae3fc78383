import { describe, expect, it } from 'vitest';
import { findInlineSecret } from '../src/vault/inline-secrets.js';

describe('inline secret detection', () => {
  it.each([
    ['mysql -u app -phunter22 db', 'a password for a MySQL client'],
    ['mysqldump --user=app --password hunter22 db', 'a password on the command line'],
    ['sshpass -p hunter22 ssh host uptime', 'a password for sshpass'],
    ['redis-cli -h cache -a hunter22 ping', 'a password for redis-cli'],
    ['curl -u admin:hunter22 https://api.example.com', 'a user:password option'],
    ['curl --user admin:hunter22 https://api.example.com', 'a user:password option'],
    ['DB_PASSWORD=hunter22 ./migrate', 'a password or token assignment'],
    ['git clone https://bob:hunter22@example.com/r.git', 'credentials in a URL'],
    ['echo AKIAABCDEFGHIJKLMNOP', 'an AWS access key id'],
  ])('refuses %s', (command, what) => {
    expect(findInlineSecret(command)).toBe(what);
  });

  it.each([
    'mkdir -p /var/log/app',
    'ssh -p 2222 host uptime',
    'docker run -p 8080:80 nginx',
    'docker run -u 1000:1000 alpine id',
    'git log -p HEAD~3',
    'date -u +%H:%M:%S',
    'journalctl -u nginx --since today',
    'cp -p a b',
    'mysql -p db',
    'curl -u "$API_USER:$API_PASS" https://api.example.com',
    'mysql -p"$DB_PASSWORD" db',
    'echo password=$DB_PASSWORD',
    'systemctl restart webserver',
  ])('lets %s through', (command) => {
    expect(findInlineSecret(command)).toBeNull();
  });
});
