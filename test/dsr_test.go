package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// runCLI runs the real binary with extra environment and returns its
// stdout; a non-zero exit fails the test.
func runCLI(t *testing.T, ctx context.Context, bin string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("parley %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.Bytes()
}

// TestDataSubjectFullCycle is issue 5's full cycle against the real
// binary: a user calls (telemetry stored) and sends messages; `parley dsr
// export` returns them; `parley dsr delete` completes with a signed
// receipt; then nothing readable is left, a raw scan of every file in the
// data directory finds neither the user id nor the message text, and a
// backup taken before the deletion cannot open the user's data once the
// keystore window has passed (simulated clock).
// proves RIGHTS-1, RIGHTS-3, RIGHTS-5
func TestDataSubjectFullCycle(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	bin := buildParley(t)
	dataDir := t.TempDir()
	p := startServe(t, ctx, bin, dataDir)
	const (
		user   = "fullcycle-user-7f3a"
		peer   = "fullcycle-peer-19c2"
		secret = "full-cycle secret text"
	)
	sdkAppID := fmt.Sprint(p.appID)
	// The app's backend is down: after-send callbacks (with the message
	// text) wait in the outbox, and the erasure must reach them too.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	runCLI(t, ctx, bin, nil, "app", "callback", "--data", dataDir, "--sdkappid", sdkAppID, "--url", down.URL, "--key", "cbkey0123456789")
	client := func(id string, initCfg *parley.InitConfig, purposes ...string) *parley.Client {
		t.Helper()
		env := &testEnv{appID: p.appID, key: p.key}
		sig := env.userSig(t, id)
		c, err := parley.New(parley.Config{URL: "ws://" + p.httpAddr + "/v1/signal", SDKAppID: p.appID, UserID: id, UserSig: sig,
			InitConfig: initCfg, Logger: testLogger().With("client", id)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.GrantConsent(testPolicyVersion, purposes...); err != nil {
			t.Fatal(err)
		}
		if err := c.Init(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice := client(user, &parley.InitConfig{AudioEnable: true, Switches: map[string]bool{"ext.apm": true}},
		protocol.PurposeRTC, protocol.PurposeQuality, protocol.PurposeIM)
	bob := client(peer, nil, protocol.PurposeRTC, protocol.PurposeIM)
	for _, c := range []*parley.Client{alice, bob} {
		if _, err := c.EnterRoom(ctx, parley.EnterParams{StrRoomID: "fullcycle", Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatal(err)
		}
	}
	publishClips(t, ctx, alice, false, true)
	bobIn := newInbox()
	am, err := alice.LoginIM(ctx, parley.IMOptions{Listener: newInbox().listener(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer am.Close()
	bm, err := bob.LoginIM(ctx, parley.IMOptions{Listener: bobIn.listener(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer bm.Close()
	for i := range 3 {
		if _, err := am.SendText(ctx, parley.IMTarget{User: peer}, fmt.Sprintf("%s %d", secret, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bm.SendText(ctx, parley.IMTarget{User: user}, "bob's own words"); err != nil {
		t.Fatal(err)
	}
	bobIn.next(t, ctx, 3)

	cliEnv := []string{"PARLEY_SECRET_KEY=" + p.key}
	url := "http://" + p.httpAddr
	type dsrOut struct {
		Request struct {
			State    string          `json:"state"`
			Receipt  json.RawMessage `json:"receipt"`
			AuditSeq int64           `json:"audit_seq"`
		}
		Stores []struct {
			Store    string `json:"store"`
			Rows     int64  `json:"rows"`
			Readable int64  `json:"readable_after"`
		}
		Export json.RawMessage
	}
	dsrCmd := func(dir []string, args ...string) dsrOut {
		t.Helper()
		var out dsrOut
		raw := runCLI(t, ctx, bin, cliEnv, append(append([]string{"dsr"}, args...), dir...)...)
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("dsr %v: %v\n%s", args, err, raw)
		}
		return out
	}
	remote := []string{"--url", url, "--sdkappid", sdkAppID, "--user", user, "--json"}
	// Telemetry arrives every 2 s while alice is in the room.
	admin := &testEnv{appID: p.appID, key: p.key}
	qualityRows := func() int {
		sig := admin.userSig(t, "administrator")
		q := fmt.Sprintf("sdkappid=%d&identifier=administrator&usersig=%s", p.appID, sig)
		body := fmt.Sprintf(`{"UserId":%q,"Section":"quality","StartTime":%d,"EndTime":%d}`, user,
			time.Now().Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix())
		resp, err := http.Post(url+"/v1/rest/DescribeCallQuality?"+q, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Response struct{ Total int } }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Response.Total
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for qualityRows() == 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("no telemetry stored from the call")
		}
	}

	// Alice stops using the app before asking for deletion (her logout
	// callbacks join the waiting ones).
	am.Close()
	_ = alice.Close()

	backup := filepath.Join(t.TempDir(), "before-delete.db")
	runCLI(t, ctx, bin, nil, "backup", "--data", dataDir, "--out", backup, "--json")

	exp := dsrCmd(remote, "export")
	for _, want := range []string{secret + " 0", secret + " 2", `"quality_logs"`, "quality.rtt_ms", `"consent_ledger"`, testPolicyVersion} {
		if !bytes.Contains(exp.Export, []byte(want)) {
			t.Errorf("export lacks %q", want)
		}
	}
	if bytes.Contains(exp.Export, []byte("bob's own words")) {
		t.Error("export contains the peer's message")
	}

	del := dsrCmd(remote, "delete")
	if del.Request.State != "completed" || len(del.Request.Receipt) == 0 {
		t.Fatalf("delete: %+v", del.Request)
	}
	erased := map[string]int64{}
	for _, s := range del.Stores {
		erased[s.Store] = s.Rows
		if s.Readable != 0 {
			t.Errorf("%s still readable: %d", s.Store, s.Readable)
		}
	}
	// The three after-send callbacks (with the text) never left.
	if erased["webhook_outbox"] < 3 || erased["messages"] < 3 || erased["quality_logs"] == 0 || erased["consent_ledger"] == 0 {
		t.Errorf("erased rows per store: %v", erased)
	}
	// The peer's history keeps the seqs, with tombstones for alice's.
	hist, err := bm.History(ctx, "c2c:"+min(user, peer)+"|"+max(user, peer), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if strings.Contains(m.Text(), secret) {
			t.Fatalf("peer still reads the erased text: %+v", m)
		}
	}
	bm.Close()
	_ = bob.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("parley serve exit: %v", err)
	}

	// With the server stopped, the CLI works on the data directory.
	after := dsrCmd([]string{"--data", dataDir, "--sdkappid", sdkAppID, "--user", user, "--json"}, "access")
	for _, s := range after.Stores {
		if s.Rows != 0 {
			t.Errorf("after deletion %s holds %d rows", s.Store, s.Rows)
		}
	}
	// Raw scan: no file of the data directory holds the id or the text.
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, needle := range []string{user, secret} {
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s contains %q in clear", path, needle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The backup, inside the keystore window, still opens alice's data
	// (restores work); after the window it cannot.
	clock := time.Now()
	now := func() time.Time { return clock }
	kek, err := keyring.LoadOrCreateKEK(filepath.Join(dataDir, app.KEKFile), "")
	if err != nil {
		t.Fatal(err)
	}
	ksOpts := sqlite.Options{KEK: kek, KeystorePath: filepath.Join(dataDir, sqlite.KeystoreFile), Keystore: keyring.KeystoreOptions{Now: now}}
	readBackup := func() (texts int, tombstones int) {
		t.Helper()
		db, err := sqlite.Open(ctx, backup, ksOpts)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		msgs, err := db.ListIMMessages(ctx, p.appID, "c2c:"+min(user, peer)+"|"+max(user, peer), store.IMRange{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if strings.Contains(string(m.Body), secret) {
				texts++
			}
			if m.Erased {
				tombstones++
			}
		}
		return texts, tombstones
	}
	if texts, _ := readBackup(); texts != 3 {
		t.Fatalf("inside the window the backup opens %d of alice's 3 messages", texts)
	}
	live, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: dataDir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 { // the server's hourly sweep rotates daily
		clock = clock.Add(24 * time.Hour)
		if _, err := live.DB.RotateKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if texts, tombs := readBackup(); texts != 0 || tombs < 3 {
		t.Fatalf("after the window the backup opens %d of alice's messages (%d tombstones)", texts, tombs)
	}
}

// TestSelfServiceRights: the signed-in user asks about themself through
// the Go SDK (export, then delete_device), and cannot ask about anyone
// else. proves RIGHTS-1, RIGHTS-2
func TestSelfServiceRights(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	c := env.imClient(t, "selfserve", parley.Config{})
	m := env.login(t, ctx, c, newInbox(), nil)
	if _, err := m.SendText(ctx, parley.IMTarget{User: "other"}, "my own words"); err != nil {
		t.Fatal(err)
	}
	res, err := c.RequestDataRights(ctx, parley.RightsExport)
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.State != "completed" || !bytes.Contains(res.Export, []byte("my own words")) {
		t.Fatalf("self export: %s %s", res.Request.State, res.Export)
	}
	dev, err := c.RequestDataRights(ctx, parley.RightsDeleteDevice)
	if err != nil || dev.Request.State != "completed" {
		t.Fatalf("self delete_device: %+v %v", dev.Request, err)
	}
	// The device's consent is gone; the user's messages stay (they are
	// the user's, not the device's).
	erased := map[string]int64{}
	for _, s := range dev.Stores {
		erased[s.Store] = s.Rows
	}
	if erased["consent_ledger"] == 0 || erased["messages"] != 0 {
		t.Errorf("delete_device erased %v", erased)
	}
	// Asking about another user with one's own UserSig is refused.
	resp := env.restSelf(t, "selfserve", map[string]any{"Type": "export", "UserId": "other"})
	if e, _ := resp["Error"].(map[string]any); e == nil || e["Code"] != "InvalidParameter.UserId" {
		t.Fatalf("request about another user: %v", resp)
	}
}

// restSelf posts to the self-service endpoint with user's own UserSig.
func (e *testEnv) restSelf(t *testing.T, user string, body any) map[string]any {
	t.Helper()
	q := fmt.Sprintf("sdkappid=%d&identifier=%s&usersig=%s", e.appID, user, e.userSig(t, user))
	b, _ := json.Marshal(body)
	resp, err := http.Post("http://"+e.srv.HTTPAddr()+"/v1/self/dsr?"+q, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Response map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Response
}

// TestMinorWithoutGuardianRefusedAndErased: a user who stored data as an
// adult, then turns out to be a minor without guardian consent, can
// neither enter a room nor log in to messaging, and what was stored about
// them is erased by a system request. proves MINOR-1
func TestMinorWithoutGuardianRefusedAndErased(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	const user = "teen-minor-check"
	m := env.login(t, ctx, env.imClient(t, user, parley.Config{}), newInbox(), nil)
	if _, err := m.SendText(ctx, parley.IMTarget{User: "friend"}, "stored before the age was known"); err != nil {
		t.Fatal(err)
	}
	stored := func() map[string]float64 {
		resp := env.rest(t, "SubmitDataSubjectRequest", map[string]any{"Type": "access", "UserId": user}, "")
		out := map[string]float64{}
		stores, _ := resp["Stores"].([]any)
		for _, s := range stores {
			sm := s.(map[string]any)
			out[sm["store"].(string)] = sm["rows"].(float64)
		}
		return out
	}
	if s := stored(); s["messages"] == 0 || s["consent_ledger"] == 0 {
		t.Fatalf("nothing stored to begin with: %v", s)
	}
	minorClaim := &protocol.ConsentClaim{PolicyVersion: testPolicyVersion, Purposes: []string{protocol.PurposeRTC, protocol.PurposeIM},
		Method: protocol.ConsentMethodSDK, GrantedAt: time.Now().UnixMilli(), AgeBand: protocol.AgeBandMinor}
	room := dialRaw(t, ctx, env)
	b, _ := protocol.Encode(protocol.TypeJoin, 1, protocol.JoinRequest{SDKAppID: env.appID, UserID: user, UserSig: env.userSig(t, user),
		RoomID: 31, Scene: protocol.SceneVideoCall, DeviceID: "teen-phone", Platform: "go", Consent: minorClaim})
	room.write(ctx, websocket.MessageText, b)
	room.expectError(ctx, protocol.ErrCodeGuardianRequired, "guardian")
	im := dialRaw(t, ctx, env)
	b, _ = protocol.Encode(protocol.TypeIMLogin, 1, protocol.IMLogin{SDKAppID: env.appID, UserID: user, UserSig: env.userSig(t, user),
		DeviceID: "teen-phone", Platform: "go", Consent: minorClaim})
	im.write(ctx, websocket.MessageText, b)
	im.expectError(ctx, protocol.ErrCodeGuardianRequired, "guardian")

	s := stored()
	for name, n := range s {
		if n != 0 {
			t.Errorf("after the refusal %s still holds %v rows", name, n)
		}
	}
	reqs := env.rest(t, "DescribeDataSubjectRequests", map[string]any{}, "")
	found := false
	for _, r := range reqs["Requests"].([]any) {
		rm := r.(map[string]any)
		found = found || (rm["type"] == "delete" && rm["source"] == "system" && rm["state"] == "completed")
	}
	if !found {
		t.Fatalf("no completed system erasure among %v", reqs["Requests"])
	}
}

// TestReceiptInclusionProof: the REST API returns, for a completed
// erasure, an inclusion proof of its receipt's audit record against a
// signed checkpoint; the proof checks with the published key and the
// record carries the receipt's hash. proves SEC-2 (tamper-evident proof)
func TestReceiptInclusionProof(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	m := env.login(t, ctx, env.imClient(t, "proof-user", parley.Config{}), newInbox(), nil)
	if _, err := m.SendText(ctx, parley.IMTarget{User: "x"}, "to be erased"); err != nil {
		t.Fatal(err)
	}
	del := env.rest(t, "SubmitDataSubjectRequest", map[string]any{"Type": "delete", "UserId": "proof-user"}, "")
	req, _ := del["Request"].(map[string]any)
	if req == nil || req["state"] != "completed" {
		t.Fatalf("delete: %v", del)
	}
	got := env.rest(t, "DescribeDataSubjectRequest", map[string]any{"RequestId": req["id"]}, "")
	pj, _ := got["ReceiptProof"].(map[string]any)
	key, _ := got["AuditKey"].(string)
	if pj == nil || key == "" {
		t.Fatalf("no proof: %v", got)
	}
	p := audit.Proof{Seq: int64(pj["Seq"].(float64)), Record: []byte(pj["Record"].(string)), Checkpoint: []byte(pj["Checkpoint"].(string))}
	for _, h := range pj["Hashes"].([]any) {
		b, err := base64.StdEncoding.DecodeString(h.(string))
		if err != nil || len(b) != len(tlog.Hash{}) {
			t.Fatalf("hash %v: %v", h, err)
		}
		p.Proof = append(p.Proof, tlog.Hash(b))
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckProof(p, v); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	// The receipt as the REST API returned it still verifies.
	signed, _ := json.Marshal(req["receipt"])
	pub, _ := base64.StdEncoding.DecodeString(req["receipt"].(map[string]any)["public_key"].(string))
	if rc, err := dsr.VerifyReceipt(signed, pub); err != nil || rc.RequestID != req["id"] {
		t.Fatalf("receipt from REST: %+v %v", rc, err)
	}
	if _, err := dsr.VerifyReceipt(signed, nil); !errors.Is(err, dsr.ErrBadReceipt) {
		t.Fatalf("a receipt verified without a key: %v", err)
	}
	inner, _ := req["receipt"].(map[string]any)["receipt"].(string)
	sum := sha256.Sum256([]byte(inner))
	if !bytes.Contains(p.Record, []byte(hex.EncodeToString(sum[:]))) {
		t.Fatalf("the proven record %s does not carry the receipt's hash", p.Record)
	}
	// A proof of another record does not pass for this one.
	p.Record = bytes.Replace(p.Record, []byte("dsr.receipt"), []byte("dsr.state"), 1)
	if err := audit.CheckProof(p, v); err == nil {
		t.Fatal("an altered record passed the inclusion proof")
	}
}

// TestDeletionEndsOpenMessagingLogins: deleting a user ends their open
// messaging logins on every device at once. A raw connection reads the
// -4008 error and then the close; the Go SDK hears ErrConsentRequired and
// does not log in again; another user's login is untouched and can still
// send. proves RIGHTS-1, RIGHTS-6
func TestDeletionEndsOpenMessagingLogins(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	const user = "erased-while-online"

	sdkErrs := make(chan error, 8)
	in := newInbox()
	l := in.listener(t)
	l.OnError = func(err error) { sdkErrs <- err }
	phone, err := env.imClient(t, user, parley.Config{}).LoginIM(ctx, parley.IMOptions{Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = phone.Close() })
	laptop := dialRaw(t, ctx, env)
	claim := &protocol.ConsentClaim{PolicyVersion: testPolicyVersion, Purposes: []string{protocol.PurposeIM},
		Method: protocol.ConsentMethodSDK, GrantedAt: time.Now().UnixMilli()}
	b, _ := protocol.Encode(protocol.TypeIMLogin, 1, protocol.IMLogin{SDKAppID: env.appID, UserID: user,
		UserSig: env.userSig(t, user), DeviceID: "laptop-raw", Platform: "go", Consent: claim})
	laptop.write(ctx, websocket.MessageText, b)
	laptop.next(ctx, protocol.TypeIMLoggedIn)
	bobIn := newInbox()
	bob := env.login(t, ctx, env.imClient(t, "bob-stays", parley.Config{}), bobIn, nil)
	if _, err := bob.SendText(ctx, parley.IMTarget{User: user}, "before"); err != nil {
		t.Fatal(err)
	}
	in.next(t, ctx, 1)
	laptop.next(ctx, protocol.TypeIMMessage)

	resp := env.rest(t, "SubmitDataSubjectRequest", map[string]any{"Type": "delete", "UserId": user}, "")
	if req, _ := resp["Request"].(map[string]any); req["state"] != "completed" {
		t.Fatalf("delete: %v", resp)
	}
	laptop.expectError(ctx, protocol.ErrCodeConsentRequired, "log in again only after fresh consent")
	if _, _, err := laptop.conn.Read(ctx); websocket.CloseStatus(err) == -1 && !errors.Is(err, io.EOF) {
		t.Fatalf("after the notice the connection should close, got %v", err)
	}
	if err := waitFor(t, ctx, sdkErrs, "the SDK's error"); !errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("SDK error %v, want ErrConsentRequired", err)
	}
	// No reconnect: the Messenger ends its login instead of retrying.
	if _, err := phone.SendText(ctx, parley.IMTarget{User: "bob-stays"}, "after"); !errors.Is(err, parley.ErrNotLoggedIn) &&
		!errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("send after the erasure: %v, want not logged in", err)
	}
	if _, err := bob.SendText(ctx, parley.IMTarget{User: user}, "bob still works"); err != nil {
		t.Fatalf("the other user's login was touched: %v", err)
	}
}
