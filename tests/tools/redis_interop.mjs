// A foreign function on Strata's Redis Streams bus, written with the npm `redis` client the way
// a Dapr pubsub.redis subscriber sees the streams: XADDs a CloudEvent as field `data` on IN_TOPIC,
// then reads OUT_TOPIC through its own consumer group (created from id 0) and prints the first
// entry as {"id": ..., "fields": {...}}.
//   node redis_interop.mjs REDIS_URL IN_TOPIC OUT_TOPIC EVENT_JSON
import { createClient } from 'redis';

const [, , url, inTopic, outTopic, eventJson] = process.argv;
const client = createClient({ url });
client.on('error', (e) => console.error('redis client error:', e.message));
await client.connect();
await client.xAdd(inTopic, '*', { data: eventJson });
try {
  await client.xGroupCreate(outTopic, 'node-interop', '0', { MKSTREAM: true });
} catch (e) {
  if (!String(e.message).includes('BUSYGROUP')) throw e;
}
const deadline = Date.now() + 20000;
let found = null;
while (!found && Date.now() < deadline) {
  const res = await client.xReadGroup('node-interop', 'node-1', { key: outTopic, id: '>' },
                                      { COUNT: 1, BLOCK: 500 });
  if (res && res.length && res[0].messages.length) found = res[0].messages[0];
}
if (found) await client.xAck(outTopic, 'node-interop', found.id);
await (client.close ? client.close() : client.quit());
if (!found) {
  console.error(`nothing arrived on ${outTopic} within 20s`);
  process.exit(1);
}
console.log(JSON.stringify({ id: found.id, fields: found.message }));
