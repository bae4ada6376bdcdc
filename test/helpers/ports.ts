// Ports for servers that cannot listen on port 0 and report it (redis-server,
// nginx) or whose port must be known before they start (a gateway cluster's
// public_url): claimed outside the kernel's ephemeral range with a lock file
// that other test files (run in parallel) and the bench respect. The one
// implementation is bench/lib/ports.mjs, plain JavaScript, so that the bench
// claims its ports the same way without a build.
export { claimPort } from '../../bench/lib/ports.mjs';
