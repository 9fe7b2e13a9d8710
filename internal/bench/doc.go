// Package bench measures a Parley server with real Go-SDK clients.
//
// RunSFU puts P publishers (synthetic VP8 at ~30 fps plus Opus at 50
// packets/s, or Opus only) and S audience subscribers into one live room,
// waits until every receiving client has a packet on every track, then
// counts, over a fixed window, what the clients receive: packets, bytes,
// loss from RTP sequence numbers (RFC 3550 A.3, from each stream's first
// packet in the window), join times, and end-to-end latency from the send
// stamp that synthetic sources put in every frame. Clients and server
// share one host, hence one clock, so receive time minus stamp is the
// added latency of SDK send path + SFU + SDK receive path.
//
// With Options.Spawn the server is started for the run: as a child
// process (`parley serve`) when Options.ServerBinary names the parley
// binary, so that its CPU time, read from /proc/<pid>/stat, excludes the
// clients; otherwise in this process, where only the whole process's CPU
// time can be read (Result.ServerCPUMethod says which).
package bench
