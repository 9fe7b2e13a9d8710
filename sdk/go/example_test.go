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
	_, err = c.EnterRoom(ctx, parley.EnterParams{RoomID: 123, Scene: protocol.SceneVideoCall})
	var se *parley.ServerError
	switch {
	case errors.As(err, &se):
		fmt.Println("refused with TRTC code", se.Code)
	case err != nil:
		fmt.Println("no server")
	}
	// Output: no server
}
