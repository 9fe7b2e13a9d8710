// Package parley is the Go SDK of Parley, a self-hosted TRTC-compatible
// RTC platform. It speaks the signaling protocol of docs/protocol.md over
// one WebSocket and carries media on two pion PeerConnections: a publisher
// (the client offers) and a subscriber (the server offers).
//
// All network traffic goes through Config.Transport, wrapped in an egress
// gate that stays closed until the end user's consent is recorded
// (GrantConsent) and the SDK is initialised (Init): before that every
// dial, socket, name lookup and interface query fails with
// ErrConsentRequired and nothing is sent (CONSENT-1/2). New, GrantConsent
// and Init perform no network I/O; EnterRoom is the first network use.
// Stop withdraws consent (CONSENT-5). An init config (ParseInitConfig,
// Config.InitConfig) switches audio, video, APM telemetry and each
// optional device fact on; absent means off (SWITCH-1/2/3, COLLECT-5).
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
//	// After the app's privacy prompt, with the user's agreement:
//	if err := c.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil { … }
//	if err := c.Init(ctx); err != nil { … }
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
//
// # Messaging
//
// LoginIM logs the user in to instant messaging (the "Messaging (IM)"
// section of docs/protocol.md) on a connection of its own, independent of
// rooms; the consent must include purpose "im". The returned Messenger
// sends, pages history, marks read, recalls, runs group operations and
// registers the push token. It reconnects by itself and catches up by
// sequence number, so OnMessage sees every message of a conversation
// once, in seq order (not the Messenger's own sends); Cursors saves the
// position for the next run (IMOptions.Cursors).
//
//	if err := c.GrantConsent("2025-09-11", protocol.PurposeRTC, protocol.PurposeIM); err != nil { … }
//	if err := c.Init(ctx); err != nil { … }
//	m, err := c.LoginIM(ctx, parley.IMOptions{Listener: parley.IMListener{
//		OnMessage: func(msg parley.IMMessage) {
//			fmt.Printf("%s #%d from %s: %s\n", msg.Conv, msg.Seq, msg.Sender, msg.Text())
//		},
//	}})
//	if err != nil { … }
//	defer m.Close() // m.Logout(ctx) instead also stops offline pushes to this device
//	sent, err := m.SendText(ctx, parley.IMTarget{User: "bob"}, "hi")
//	if err != nil {
//		var se *parley.ServerError
//		if errors.As(err, &se) { /* se.Code is Tencent IM's ErrorCode, e.g. 80002 too large */ }
//	}
//	_ = sent.Seq // the message's number in its conversation
package parley
