// Package telemetry ingests the quality statistics and device facts SDKs
// report, strictly against the personal-information inventory and the
// session's consent scope, and stores them for the quality dashboard.
//
// Every key of every section of a report must be an inventory element
// declared for that section, on the session's platform, with its switch on
// and its purpose consented (PROMISES COLLECT-1, COLLECT-5, SWITCH-3);
// values are type- and range-checked. One bad field rejects the whole
// report with the field's name and an audit entry — nothing partial is
// stored. IP prefixes are truncated again on ingest (COLLECT-2); the
// transport address of the connection is never seen here, let alone
// stored. Users and devices are stored only as per-app HMAC pseudonyms
// (COLLECT-7). Records go to day partitions (RETAIN-1) through a batching
// writer (group commit).
package telemetry
