// Signatures per second of the official Huawei Cloud signer over the same requests.
//   node bench/sign_bench.js REQUESTS.json
const fs = require('fs');
const path = require('path');
const dir = process.env.SDK_CORE_DIR || path.join(__dirname, 'node_modules/@huaweicloud/huaweicloud-sdk-core');
const { AKSKSigner } = require(path.join(dir, 'auth/AKSKSigner'));

const list = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')).map((r) => {
  const [base, query] = r.url.split('?');
  const queryParams = {};
  for (const kv of (query || '').split('&').filter(Boolean)) {
    const i = kv.indexOf('=');
    const k = decodeURIComponent(kv.slice(0, i)), v = decodeURIComponent(kv.slice(i + 1));
    queryParams[k] = k in queryParams ? [].concat(queryParams[k], v) : v;
  }
  const headers = Object.assign({}, r.headers, { 'X-Sdk-Date': r.date });
  const req = { method: r.method, endpoint: base, queryParams, headers };
  if (r.body) req.data = JSON.parse(r.body);
  return { req, cred: { getAk: () => r.ak, getSk: () => r.sk } };
});

let rounds = 0;
const t0 = process.hrtime.bigint();
let elapsed = 0;
do {
  for (const { req, cred } of list) AKSKSigner.sign(req, cred);
  rounds++;
  elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
} while (elapsed < 2);
console.log((rounds * list.length / elapsed).toFixed(0));
