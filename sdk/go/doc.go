// Package parley is the Go SDK of Parley, a self-hosted TRTC-compatible
// RTC platform. It speaks the signaling protocol of docs/protocol.md over
// one WebSocket and carries media on two pion PeerConnections: a publisher
// (the client offers) and a subscriber (the server offers).
//
// All network traffic goes through Config.Transport, so a wrapper can gate
// or record every byte (CONSENT-1). New sends nothing; EnterRoom is the
// first network use.
//
// A minimal session:
//
//	c, err := parley.New(parley.Config{
//		URL: "ws://localhost:7880/v1/signal", SDKAppID: 1400000001,
//		UserID: "alice", UserSig: sig,
//		Listener: parley.Listener{
//			OnRemoteTrack: func(t *parley.RemoteTrack) {
//				t.OnPacket(func(p *rtp.Packet) { /* payload */ })
//			},
//		},
//	})
//	if err != nil { … }
//	defer c.Close()
//	if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 123}); err != nil {
//		var se *parley.ServerError
//		if errors.As(err, &se) { /* se.Code is the TRTC code, e.g. -3320 */ }
//	}
//	src, _ := parley.NewIVFSource("testdata/media/vp8.ivf")
//	track, _ := c.PublishVideo(ctx, src, parley.VideoOptions{})
//	…
//	_ = track.Unpublish(ctx)
//	_ = c.ExitRoom(ctx)
//
// Remote tracks are subscribed automatically. Statistics and network
// quality arrive every two seconds; a dropped signaling connection is
// re-established with backoff, re-joining the room and re-publishing local
// tracks (OnConnectionLost, OnConnectionRecovery). A server exit_room
// (reasons 1–4) ends the room without reconnecting.
package parley
