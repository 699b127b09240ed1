// The bcrypt yardstick: hashes/s of the bcrypt module alone (cost 12, 6 in flight) in a plain
// process, under the caller's UV_THREADPOOL_SIZE. Prints {"perSecond": n, "cores": CPUs busy on average}.
import bcrypt from 'bcrypt';

const [warmupS, windowS] = process.argv.slice(2).map(Number);
const start = performance.now();
const end = start + (warmupS + windowS) * 1000;
let counted = 0;
let cpuAtStart;
setTimeout(() => (cpuAtStart = process.cpuUsage()), warmupS * 1000);
const worker = async () => {
  while (performance.now() < end) {
    await bcrypt.hash('bench-password', 12);
    const t = performance.now();
    if (t >= start + warmupS * 1000 && t <= end) counted++;
  }
};
await Promise.all(Array.from({ length: 6 }, worker));
const cpu = process.cpuUsage(cpuAtStart);
console.log(JSON.stringify({ perSecond: counted / windowS, cores: (cpu.user + cpu.system) / 1e6 / windowS }));
