// A function in another language on Strata's chain, with the npm `redis` client the way a Dapr
// pubsub.redis subscriber sees the streams: it reads `strata.status` through its own consumer
// group until a status event of task WATCH_TASK arrives, then publishes a CloudEvent asking for a
// new task (id NEW_TASK, the policy as YAML text) on `strata.tasks`, the split function's topic,
// and prints {"seen": <status event type>, "published": <stream entry id>}.
//   node chain_peer.mjs REDIS_URL WATCH_TASK NEW_TASK POLICY_YAML BASE_DIR
import { createClient } from 'redis';

const [, , url, watchTask, newTask, policyYaml, baseDir] = process.argv;
const client = createClient({ url });
client.on('error', (e) => console.error('redis client error:', e.message));
await client.connect();
try {
  await client.xGroupCreate('strata.status', 'node-peer', '0', { MKSTREAM: true });
} catch (e) {
  if (!String(e.message).includes('BUSYGROUP')) throw e;
}
const deadline = Date.now() + 60000;
let seen = null;
while (!seen && Date.now() < deadline) {
  const res = await client.xReadGroup('node-peer', 'node-1', { key: 'strata.status', id: '>' },
                                      { COUNT: 10, BLOCK: 500 });
  for (const stream of res || []) {
    for (const m of stream.messages) {
      await client.xAck('strata.status', 'node-peer', m.id);
      const ev = JSON.parse(m.message.data);
      if (!seen && ev.data && ev.data.task_id === watchTask) seen = ev.type;
    }
  }
}
if (!seen) {
  console.error(`no status event of task ${watchTask} within 60s`);
  process.exit(1);
}
const request = {
  specversion: '1.0',
  id: `node-${process.pid}-${Date.now()}`,
  source: 'node/chain-peer',
  type: 'strata.task.requested',
  subject: newTask,
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data: { task_id: newTask, policy_yaml: policyYaml, base_dir: baseDir },
};
const published = await client.xAdd('strata.tasks', '*', { data: JSON.stringify(request) });
await (client.close ? client.close() : client.quit());
console.log(JSON.stringify({ seen, published }));
