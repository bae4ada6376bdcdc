// node --import ./bench/lib/loaded-modules.mjs ...: what this process has
// loaded, written to $GATEHOUSE_BENCH_MODULES_DIR/<pid>.txt every second (one
// line per module: ES modules through a load hook, CommonJS ones from
// require.cache). The bench uses it to show what the cluster primary loads
// (issue 18: no gateway code there).
import { register, createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const dir = process.env.GATEHOUSE_BENCH_MODULES_DIR;
if (dir) {
  const esm = new Set();
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => esm.add(url));
  port1.unref();
  register(
    `data:text/javascript,${encodeURIComponent('let port; export function initialize(data) { port = data.port; } export async function load(url, context, next) { port.postMessage(url); return next(url, context); }')}`,
    { data: { port: port2 }, transferList: [port2] },
  );
  const cjs = createRequire(import.meta.url).cache;
  const dump = () => {
    const all = new Set([...esm].filter((u) => !u.startsWith('node:') && !u.startsWith('data:')).map((u) => u.replace(/^file:\/\//, '')));
    for (const path of Object.keys(cjs)) all.add(path);
    writeFileSync(`${dir}/${process.pid}.txt`, `${[...all].join('\n')}\n`);
  };
  setInterval(dump, 1000).unref();
}
