// Generates spec/fixtures/sign_vectors.json with the official Huawei Cloud signer
// (AKSKSigner from the npm package @huaweicloud/huaweicloud-sdk-core).
//   npm install --prefix /tmp/sdk @huaweicloud/huaweicloud-sdk-core
//   SDK_CORE_DIR=/tmp/sdk/node_modules/@huaweicloud/huaweicloud-sdk-core node spec/tools/gen_sign_vectors.js
const fs = require('fs');
const path = require('path');
const dir = process.env.SDK_CORE_DIR || '/tmp/sdk/node_modules/@huaweicloud/huaweicloud-sdk-core';
const { AKSKSigner } = require(path.join(dir, 'auth/AKSKSigner'));
const version = require(path.join(dir, 'package.json')).version;

const P = '0123456789abcdef0123456789abcdef';
const ID = '1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3';
const RID = '3fef5d3e-27b6-44e8-9769-1d7262bd9430';
const DATE = '20261124T000000Z';
const CREDS = [
  ['HPUAEXAMPLE0AK000001', 'exampleSecretKey0123456789abcdefABCDEFGH'],
  ['AK2', 'sk+/with=special+chars/'],
  ['QTWAOYTTINDUT2QVKYUC', 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc'],
];
const base = (host) => `https://${host || 'rfs.cn-north-4.myhuaweicloud.com'}/v1/${P}/stacks/my-stack`;
const std = { 'Client-Request-Id': RID, 'Content-Type': 'application/json' };

// [name, method, url, headers, body, cred index, token]
const cases = [
  ['metadata', 'GET', base() + '/metadata', std, '', 0],
  ['metadata with stack_id', 'GET', base() + `/metadata?stack_id=${ID}`, std, '', 0],
  ['continue_deploy empty body', 'POST', base() + '/continuations', std, '{}', 0],
  ['continue_deploy guarded', 'POST', base() + '/continuations', std, JSON.stringify({ stack_id: ID }), 0],
  ['continue_rollback guarded', 'POST', base() + '/rollbacks', std, JSON.stringify({ stack_id: ID }), 1],
  ['events paged and filtered', 'GET', base() + `/events?deployment_id=${RID}&filter=event_type%3D%3DERROR%7Cevent_type%3D%3DCREATION_FAILED&field=resource_name%2Cevent_message&limit=20&marker=abc`, std, '', 2],
  ['query keys needing encoding', 'GET', base() + '/events?sp%20ace=a%20b&eq%3D=x%3Dy&amp%26=%26&sl%2F=%2F&t~=~&st%2A=%2A', std, '', 0],
  ['unicode query', 'GET', base() + '/events?u=%C3%A9t%C3%A9&e=%F0%9F%98%80', std, '', 1],
  ['repeated keys sorted values', 'GET', base() + '/events?a=2&b=1&a=1&a=10', std, '', 0],
  ['empty query value', 'GET', base() + '/events?k=&z=1', std, '', 0],
  ['explicit port', 'GET', `http://127.0.0.1:8080/v1/${P}/stacks/my-stack/metadata`, std, '', 0],
  ['explicit https port', 'GET', `https://rfs.cn-north-4.myhuaweicloud.com:443/v1/${P}/stacks/s/metadata`, std, '', 2],
  ['path punctuation', 'GET', `https://h.example/v1/${P}/stacks/My_Stack-1.x~y/metadata`, std, '', 0],
  ['trailing slash', 'GET', base() + '/metadata/', std, '', 0],
  ['extra headers', 'GET', base() + '/metadata', Object.assign({ 'X-Project-Id': P, 'X-Custom-Header': 'v a l' }, std), '', 1],
  ['lower-case content-type', 'POST', base() + '/continuations', { 'Client-Request-Id': RID, 'content-type': 'application/json' }, '{}', 0],
  ['security token', 'GET', base() + '/metadata', std, '', 2, 'gQpjbi1ub3J0aC00jNAMzDtdWNlcnQtdG9rZW4tZXhhbXBsZQ=='],
  ['security token post', 'POST', base() + '/rollbacks', Object.assign({ 'X-Project-Id': P }, std), JSON.stringify({ stack_id: ID }), 0, 'token-2'],
  ['long body', 'POST', base() + '/continuations', std, JSON.stringify({ stack_id: ID, pad: 'x'.repeat(10240) }), 1],
  ['unicode body', 'POST', base() + '/continuations', std, JSON.stringify({ stack_id: ID, note: 'déploiement 😀' }), 2],
  ['eu region', 'GET', `https://aos.myhuaweicloud.eu/v1/${P}/stacks/my-stack/metadata`, std, '', 0],
  ['no headers', 'GET', base() + '/metadata', {}, '', 1],
];

function parseQuery(q) {
  const out = {};
  for (const kv of (q || '').split('&').filter(Boolean)) {
    const i = kv.indexOf('=');
    const k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
    out[k] = k in out ? [].concat(out[k], v) : v;
  }
  return out;
}

const vectors = cases.map(([name, method, url, headers, body, ci, token]) => {
  const [ak, sk] = CREDS[ci];
  const [endpoint, query] = url.split('?');
  const h = Object.assign({}, headers, { 'X-Sdk-Date': DATE });
  if (token) h['X-Security-Token'] = token;
  const req = { method, endpoint, queryParams: parseQuery(query), headers: h };
  if (body) {
    req.data = JSON.parse(body);
    if (JSON.stringify(req.data) !== body) throw new Error(`body does not round-trip: ${name}`);
  }
  const signed = AKSKSigner.sign(req, { getAk: () => ak, getSk: () => sk });
  const expected = { Authorization: signed.Authorization, 'X-Sdk-Date': DATE, Host: signed.host };
  if (token) expected['X-Security-Token'] = token;
  return { name, method, url, headers, body, ak, sk, security_token: token || null, date: DATE, expected };
});

fs.writeFileSync(path.join(__dirname, '../fixtures/sign_vectors.json'),
  JSON.stringify({ generator: `@huaweicloud/huaweicloud-sdk-core ${version} auth/AKSKSigner.js`, vectors }, null, 2) + '\n');
console.log(`wrote ${vectors.length} vectors`);
