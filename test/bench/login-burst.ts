// Child process of the auth-load bench (login-client.ts starts it under `chrt --idle 0`): reads
// the burst's spec, says "ready", waits for a line on stdin, then sends every login at once and
// prints their answers and its own CPU seconds as JSON.
import { readFileSync } from 'node:fs';
import { login, loopback } from './login-client.js';

interface Spec {
  url: string;
  caFile: string;
  credentials: Array<[string, string]>;
  firstAddress: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const ca = readFileSync(spec.caFile);
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  const cpu0 = process.cpuUsage();
  void Promise.all(spec.credentials.map(([user, password], i) => login(spec.url, ca, user, password, loopback(spec.firstAddress + i)))).then((results) => {
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(JSON.stringify({ results, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
    process.exit(0);
  });
});
