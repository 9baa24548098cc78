// Package bench is the library of ivschat-bench, the messaging load generator: the scenarios
// (idle hold, fan-out, many small rooms, connect storm, token minting) run against a started
// ivschatd and against Baseline, a raw WebSocket broadcaster without chat logic that stands
// for what the machine can do; members are the tool's own minimal WebSocket clients, spread
// over worker processes (Pool, worker.go); results are judged by Goals, data rather than
// code, and printed as tables. It is measurement, not server code: the server's own
// micro-benchmarks sit beside the hot path they measure (internal/gateway, internal/chat).
package bench
