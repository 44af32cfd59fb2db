// graphql-http's server audit (GraphQL-over-HTTP conformance) against a running
// GraphQL endpoint; any audit that is not "ok" (an error, a warning or a notice)
// fails the run.
//
//   node scripts/http-audit/audit.mjs http://127.0.0.1:8080/graphql NODE_MODULES_PARENT
//
// NODE_MODULES_PARENT holds node_modules with the versions of package-lock.json
// (npm ci); internal/e2e TestGraphQLOverHTTPAudit installs them in a cache directory.
import { createRequire } from 'node:module';
import path from 'node:path';

const [url, dir = '.'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node audit.mjs URL [DIR_WITH_NODE_MODULES]');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(dir), 'package.json'));
const { serverAudits } = require('graphql-http');
const { version } = require(require.resolve('graphql-http').replace(/lib[\\/]index\.js$/, 'package.json'));

const audits = serverAudits({ url });
let failed = 0;
for (const audit of audits) {
  const result = await audit.fn();
  if (result.status !== 'ok') {
    failed++;
    console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${result.reason}`);
  }
}
console.log(`graphql-http ${version}: ${audits.length - failed} of ${audits.length} audits ok`);
process.exit(failed === 0 ? 0 : 1);
