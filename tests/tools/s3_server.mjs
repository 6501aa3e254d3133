// The S3 server of the tests: s3rver (npm), plus the calls Strata's S3 target uses that s3rver
// 3.7 lacks, implemented on s3rver's own on-disk layout: ListMultipartUploads (GET ?uploads),
// AbortMultipartUpload (DELETE ?uploadId=) and conditional PUT (If-None-Match: * / If-Match).
// Everything else is s3rver's. Like s3rver, it checks the access key id of SigV4 requests but
// not their signatures.
//
//   node tests/tools/s3_server.mjs DIR PORT BUCKET     (access key S3RVER, secret S3RVER)
import fs from 'node:fs/promises';
import path from 'node:path';
import S3rver from 's3rver';
import S3Error from 's3rver/lib/models/error.js';

const [dir, port, bucket] = process.argv.slice(2);
if (!dir || !port || !bucket) {
  console.error('usage: node s3_server.mjs DIR PORT BUCKET');
  process.exit(2);
}

const ACCESS_KEY = 'S3RVER';

function checkAccessKey(ctx) {
  const auth = ctx.get('authorization');
  if (!auth) return;
  const m = /Credential=([^/,\s]+)\//.exec(auth);
  if (!m || m[1] !== ACCESS_KEY) {
    throw new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
}

async function exists(p) {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

// Where s3rver keeps a bucket's multipart uploads: <bucket>/._S3rver_uploads/<id>/{key,1,2,...}.
const uploadsDir = b => path.join(dir, b, '._S3rver_uploads');

async function listUploads(ctx, b) {
  const prefix = ctx.query.prefix || '';
  let ids = [];
  try {
    ids = await fs.readdir(uploadsDir(b));
  } catch {
    ids = [];
  }
  const uploads = [];
  for (const id of ids) {
    let key;
    try {
      key = await fs.readFile(path.join(uploadsDir(b), id, 'key'), 'utf8');
    } catch {
      continue;
    }
    if (key.startsWith(prefix)) uploads.push({ Key: key, UploadId: id });
  }
  uploads.sort((x, y) =>
    x.Key < y.Key ? -1 : x.Key > y.Key ? 1 : x.UploadId < y.UploadId ? -1 : 1,
  );
  ctx.body = {
    ListMultipartUploadsResult: {
      Bucket: b,
      Prefix: prefix,
      KeyMarker: '',
      UploadIdMarker: '',
      MaxUploads: 1000,
      IsTruncated: false,
      ...(uploads.length ? { Upload: uploads } : {}),
    },
  };
}

async function abortUpload(ctx, b, uploadId) {
  const d = path.join(uploadsDir(b), path.basename(uploadId));
  if (!(await exists(d))) {
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may ' +
        'have been aborted or completed.',
    );
  }
  await fs.rm(d, { recursive: true, force: true });
  ctx.status = 204;
}

async function checkConditions(ctx, b, key) {
  const noneMatch = ctx.get('if-none-match');
  const match = ctx.get('if-match');
  if (!noneMatch && !match) return;
  let meta;
  try {
    meta = await ctx.store.getMetadata(b, key);
  } catch {
    meta = undefined;
  }
  if (noneMatch === '*' && meta) {
    throw new S3Error(
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      { Condition: 'If-None-Match' },
    );
  }
  if (match) {
    if (!meta) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
    if (match.replace(/"/g, '') !== meta.etag.replace(/"/g, '')) {
      throw new S3Error(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        { Condition: 'If-Match' },
      );
    }
  }
}

async function extras(ctx, next) {
  const m = /^\/([^/]+)(?:\/(.+))?$/.exec(ctx.path);
  if (!m) return next();
  const b = decodeURIComponent(m[1]);
  const key = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  const bucketExists = await exists(path.join(dir, b));
  if (ctx.method === 'GET' && key === undefined && 'uploads' in ctx.query) {
    checkAccessKey(ctx);
    if (!bucketExists) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist');
    return listUploads(ctx, b);
  }
  if (ctx.method === 'DELETE' && key !== undefined && 'uploadId' in ctx.query) {
    checkAccessKey(ctx);
    if (!bucketExists) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist');
    return abortUpload(ctx, b, ctx.query.uploadId);
  }
  if (ctx.method === 'PUT' && key !== undefined && !('uploadId' in ctx.query) && bucketExists) {
    checkAccessKey(ctx);
    if (ctx.get('if-none-match') || ctx.get('if-match')) {
      // S3 decides a conditional write atomically: the check and the write of one key are one
      // step here too, or two concurrent creates could both pass the check.
      return withKeyLock(`${b}/${key}`, async () => {
        await checkConditions(ctx, b, key);
        await next();
      });
    }
  }
  return next();
}

// Runs `fn` after every earlier holder of `name` has finished.
const keyLocks = new Map();
async function withKeyLock(name, fn) {
  const previous = keyLocks.get(name) || Promise.resolve();
  let release;
  const mine = new Promise((resolve) => {
    release = resolve;
  });
  const chained = previous.then(() => mine);
  keyLocks.set(name, chained);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (keyLocks.get(name) === chained) keyLocks.delete(name);
  }
}

const server = new S3rver({
  directory: dir,
  address: '127.0.0.1',
  port: Number(port),
  silent: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});
// Before s3rver's router (the last middleware), after its XML body encoder.
server.middleware.splice(server.middleware.length - 1, 0, extras);
const { address, port: bound } = await server.run();
console.log(`s3_server listening on ${address}:${bound}`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close().finally(() => process.exit(0)));
}
