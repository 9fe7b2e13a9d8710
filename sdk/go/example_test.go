package parley_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

func ExampleQualityFor() {
	fmt.Println(parley.QualityFor(true, 30*time.Millisecond, 0.2))
	fmt.Println(parley.QualityFor(true, 250*time.Millisecond, 2))
	fmt.Println(parley.QualityFor(false, 0, 0))
	// Output:
	// 1
	// 4
	// 6
}

func ExampleParseSyntheticStamp() {
	src, _ := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindVideo, Codec: parley.CodecVP8})
	sample, _ := src.NextSample(context.Background())
	sent, counter, ok := parley.ParseSyntheticStamp(sample.Data)
	fmt.Println(ok, counter, time.Since(sent) < time.Second)
	// Output: true 0 true
}

func ExampleClient_EnterRoom() {
	c, err := parley.New(parley.Config{
		URL: "ws://127.0.0.1:1/v1/signal", SDKAppID: 1400000001, UserID: "alice", UserSig: "sig",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Nothing reaches the network before the user's consent (CONSENT-1).
	_, err = c.EnterRoom(ctx, parley.EnterParams{RoomID: 123, Scene: protocol.SceneVideoCall})
	fmt.Println(errors.Is(err, parley.ErrNotInitialized), errors.Is(err, parley.ErrConsentRequired))
	// After the app's privacy prompt:
	if err := c.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Init(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.EnterRoom(ctx, parley.EnterParams{RoomID: 123, Scene: protocol.SceneVideoCall})
	var se *parley.ServerError
	switch {
	case errors.As(err, &se):
		fmt.Println("refused with TRTC code", se.Code)
	case err != nil:
		fmt.Println("no server")
	}
	// Output:
	// true true
	// no server
}

func ExampleParseInitConfig() {
	ic, err := parley.ParseInitConfig([]byte(`{
		"audio_enable": 1,
		"streams_config": [{"stream_id": "front", "codec": "vp8", "width": 640, "height": 360, "fps": 15}],
		"switches": {"ext.apm": true}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ic.AudioEnable, len(ic.Streams), ic.Switches[parley.SwitchAPM])
	_, err = parley.ParseInitConfig([]byte(`{"audio_enable": 1, "video_enable": 1}`))
	fmt.Println(err)
	// Output:
	// true 1 true
	// parley: invalid init config: unknown key "video_enable" in init config
}
