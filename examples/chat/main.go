// Command chat is a terminal chat client for Parley's messaging: it logs
// in, prints every message it receives (missed ones first, after a
// reconnect too) and sends each line typed on stdin.
//
//	go run ./examples/chat --sdkappid 1400000001 --key SECRET --user alice --to bob
//	go run ./examples/chat --sdkappid 1400000001 --key SECRET --user bob --to alice
//
// With --group ID the lines go to a group instead (created as a Meeting
// group, free to join, if it does not exist).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	url, key, user, to, group, policy string
	sdkAppID                          uint
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:7880/v1/signal", "signaling `URL` of the Parley server")
	fs.UintVar(&o.sdkAppID, "sdkappid", 0, "the app's `SDKAppID` (required)")
	fs.StringVar(&o.key, "key", os.Getenv("PARLEY_SECRET_KEY"), "the app's SecretKey, to sign a UserSig (default $PARLEY_SECRET_KEY)")
	fs.StringVar(&o.user, "user", "", "your `UserID` (required)")
	fs.StringVar(&o.to, "to", "", "send lines to this `UserID` (one-to-one)")
	fs.StringVar(&o.group, "group", "", "send lines to this group `ID` instead")
	fs.StringVar(&o.policy, "policy-version", "2025-09-11", "privacy policy `version` the user consented to")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.sdkAppID == 0 || o.sdkAppID > 1<<32-1:
		return o, errors.New("--sdkappid is required (the server prints it at start-up)")
	case o.key == "":
		return o, errors.New("--key is required (the server prints the dev app's SecretKey at start-up)")
	case o.user == "":
		return o, errors.New("--user is required")
	case (o.to == "") == (o.group == ""):
		return o, errors.New("give exactly one of --to and --group")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 2
	}
	// As in examples/call: a real app gets UserSigs from its backend.
	sig, err := auth.GenerateUserSig(uint32(o.sdkAppID), o.key, o.user, 24*time.Hour, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "chat: usersig:", err)
		return 2
	}
	c, err := parley.New(parley.Config{URL: o.url, SDKAppID: uint32(o.sdkAppID), UserID: o.user, UserSig: sig})
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 2
	}
	defer c.Close()
	// Running the example stands for the user's agreement to the
	// policy; messaging is purpose "im".
	if err := c.GrantConsent(o.policy, protocol.PurposeIM); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 2
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.Init(lctx); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 1
	}
	m, err := c.LoginIM(lctx, parley.IMOptions{Listener: parley.IMListener{
		OnMessage: func(msg parley.IMMessage) {
			fmt.Fprintf(stdout, "[%s #%d] %s: %s\n", msg.Conv, msg.Seq, msg.Sender, msg.Text())
		},
		OnRecalled:            func(msg parley.IMMessage) { fmt.Fprintf(stdout, "[%s #%d] (recalled)\n", msg.Conv, msg.Seq) },
		OnConnectionLost:      func() { fmt.Fprintln(stderr, "chat: connection lost, reconnecting…") },
		OnConnectionRecovered: func() { fmt.Fprintln(stderr, "chat: reconnected") },
	}})
	if err != nil {
		fmt.Fprintln(stderr, "chat: login:", err)
		return 1
	}
	defer m.Close()
	to := parley.IMTarget{User: o.to, Group: o.group}
	if o.group != "" {
		if err := joinOrCreate(lctx, m, o.group); err != nil {
			fmt.Fprintln(stderr, "chat:", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "chat: logged in as %s; type a line and press Enter to send, Ctrl-D to quit\n", o.user)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return 0
		case line, ok := <-lines:
			if !ok {
				return 0
			}
			if line == "" {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := m.SendText(sctx, to, line)
			cancel()
			if err != nil {
				fmt.Fprintln(stderr, "chat: not sent:", err)
			}
		}
	}
}

// joinOrCreate joins a group, creating it as a Meeting group when absent.
func joinOrCreate(ctx context.Context, m *parley.Messenger, id string) error {
	_, err := m.Group(ctx, protocol.IMGroupOp{Op: protocol.GroupOpJoin, GroupID: id})
	var se *parley.ServerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Code == 10013: // already a member
		return nil
	case errors.As(err, &se) && se.Code == 10010: // no such group
		_, err = m.Group(ctx, protocol.IMGroupOp{Op: protocol.GroupOpCreate, GroupID: id, Type: "Meeting"})
	}
	return err
}
