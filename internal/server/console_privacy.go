package server

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/disclosure"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
)

// registerPrivacy mounts the console's privacy endpoints (see
// docs/console.md): policies, disclosure, consent statistics and the DSR
// queue.
func (a *consoleAPI) registerPrivacy(mux *http.ServeMux) {
	need := a.con.RequireRole
	handle := func(pattern string, p operator.Permission, h http.HandlerFunc) {
		mux.Handle(pattern, need(p)(h))
	}
	handle("GET /v1/console/apps/{sdkappid}/policies", operator.PermAppsRead, a.listPolicies)
	handle("POST /v1/console/apps/{sdkappid}/policies", operator.PermAppsWrite, a.publishPolicy)
	handle("GET /v1/console/apps/{sdkappid}/disclosure", operator.PermAppsRead, a.serveDisclosure)
	handle("GET /v1/console/disclosure/formats", operator.PermAppsRead, a.disclosureFormats)
	handle("GET /v1/console/apps/{sdkappid}/consent/stats", operator.PermAppsRead, a.consentStats)
	// The DSR queue names requests by a commitment to the user, not by
	// user id; it is still what an operator learns about people's
	// requests, so each read is recorded like the consent ledger's.
	const queue, one = "GET /v1/console/apps/{sdkappid}/dsr", "GET /v1/console/dsr/{id}"
	mux.Handle(queue, need(operator.PermPersonalDataRead)(a.con.Audited(queue, a.readDSRQueue)))
	mux.Handle(one, need(operator.PermPersonalDataRead)(a.con.Audited(one, a.readDSR)))
}

// writePrivacyError answers err: an *operator.Error as is, anything else
// as a 500 (logged, without the request's data).
func (a *consoleAPI) writePrivacyError(w http.ResponseWriter, what string, err error) {
	var e *operator.Error
	if errors.As(err, &e) {
		operator.WriteError(w, e)
		return
	}
	internalError(w, a.log, what, err)
}

// ---- Policies --------------------------------------------------------

// consolePolicyJSON is a published policy version in the console.
type consolePolicyJSON struct {
	Version     string    `json:"version"`
	Material    bool      `json:"material"`
	EffectiveAt time.Time `json:"effective_at"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url"`
	PublishedAt time.Time `json:"published_at"`
	// InForce marks the version end users are shown now: the latest
	// published whose effective date has passed. At most one is.
	InForce bool `json:"in_force"`
}

func toConsolePolicy(p consent.Policy, inForce bool) consolePolicyJSON {
	return consolePolicyJSON{Version: p.Version, Material: p.Material, EffectiveAt: p.EffectiveAt.UTC(),
		Summary: p.Summary, URL: p.URL, PublishedAt: p.PublishedAt.UTC(), InForce: inForce}
}

// policyInForce returns the index in ps (publication order) of the
// latest version in effect at now, or -1. "Latest" is by publication, as
// for the material version that gates consent (CONSENT-6): a correction
// published later, effective at once, supersedes a version announced
// earlier for the same day.
func policyInForce(ps []consent.Policy, now time.Time) int {
	for i := len(ps) - 1; i >= 0; i-- {
		if !ps[i].EffectiveAt.After(now) {
			return i
		}
	}
	return -1
}

// listPolicies lists the app's versions in publication order.
func (a *consoleAPI) listPolicies(w http.ResponseWriter, r *http.Request) {
	app, err := a.pathApp(r)
	if err != nil {
		a.writePrivacyError(w, "looking up the app", err)
		return
	}
	ps, err := a.consent.Policies(r.Context(), app)
	if err != nil {
		internalError(w, a.log, "listing policies", err)
		return
	}
	cur := policyInForce(ps, a.deps.Now())
	out := make([]consolePolicyJSON, len(ps))
	for i, p := range ps {
		out[i] = toConsolePolicy(p, i == cur)
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"policies": out})
}

// maxPolicyBody bounds console request bodies (docs/console.md).
const maxPolicyBody = 64 << 10

// publishPolicyBody is the body of POST …/policies: the flags of `parley
// policy publish`.
type publishPolicyBody struct {
	Version  string `json:"version"`
	Material bool   `json:"material"`
	// EffectiveAt is RFC 3339; empty means now.
	EffectiveAt string `json:"effective_at"`
	Summary     string `json:"summary"`
	URL         string `json:"url"`
}

// errPolicyBody means a publish body is not one well-formed JSON object
// of the known fields.
var errPolicyBody = errors.New("policy body")

// decodePublishPolicy decodes a publish body strictly (one object, known
// fields, nothing after it) and checks what the CLI checks before it
// opens the store: the version name and the effective date's syntax. The
// rest (summary, URL, effective date not in the past) is checked by
// consent.PublishPolicy, for the CLI and the console alike.
func decodePublishPolicy(body []byte) (consent.Policy, error) {
	if len(body) > maxPolicyBody {
		return consent.Policy{}, fmt.Errorf("%w: over %d bytes", errPolicyBody, maxPolicyBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req publishPolicyBody
	if err := dec.Decode(&req); err != nil {
		return consent.Policy{}, fmt.Errorf("%w: want one JSON object with version and optional material, effective_at, summary, url: %s", errPolicyBody, policyBodyProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return consent.Policy{}, fmt.Errorf("%w: data after the JSON object", errPolicyBody)
	}
	if err := consent.ValidateVersion(req.Version); err != nil {
		return consent.Policy{}, err
	}
	p := consent.Policy{Version: req.Version, Material: req.Material, Summary: req.Summary, URL: req.URL}
	if req.EffectiveAt != "" {
		t, err := time.Parse(time.RFC3339, req.EffectiveAt)
		if err != nil {
			return consent.Policy{}, fmt.Errorf("%w: effective_at: want RFC 3339, e.g. 2026-12-01T00:00:00Z", consent.ErrInvalidPolicy)
		}
		p.EffectiveAt = t
	}
	return p, nil
}

// policyBodyProblem describes a decoding error without echoing the body.
func policyBodyProblem(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return "invalid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ) && typ.Field == "":
		return "not a JSON object"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type (want " + typ.Type.String() + ")"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	default:
		return "not a JSON object"
	}
}

// publishPolicy archives a new version, validated as `parley policy
// publish` validates it. The consent service records the publication in
// the audit log (policy.publish), as for the CLI.
func (a *consoleAPI) publishPolicy(w http.ResponseWriter, r *http.Request) {
	app, err := a.pathApp(r)
	if err != nil {
		a.writePrivacyError(w, "looking up the app", err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPolicyBody+1))
	if err != nil {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", "reading the body failed"))
		return
	}
	p, err := decodePublishPolicy(body)
	switch {
	case errors.Is(err, errPolicyBody):
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", "%v", err))
		return
	case err != nil:
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "%v", err))
		return
	}
	out, err := a.consent.PublishPolicy(r.Context(), app, p)
	var warning string
	switch {
	case err == nil:
	case errors.Is(err, consent.ErrInvalidPolicy):
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "%v", err))
		return
	case errors.Is(err, store.ErrConflict):
		operator.WriteError(w, operator.Errorf(http.StatusConflict, "version_exists",
			"app %d already has version %q; published versions never change, publish a new one", app, p.Version))
		return
	case out.Seq != 0:
		// Stored, but its audit record failed: say so rather than
		// invite a retry that would answer version_exists.
		a.log.Error("console: policy published, audit record failed", "sdkappid", app, "err", err)
		warning = "published, but the publication could not be recorded in the audit log"
	default:
		internalError(w, a.log, "publishing the policy", err)
		return
	}
	ps, err := a.consent.Policies(r.Context(), app)
	if err != nil {
		// Published; only in_force is unknown (false here). The next
		// list shows it.
		a.log.Warn("console: listing policies after publish failed", "sdkappid", app, "err", err)
	}
	resp := map[string]any{"policy": toConsolePolicy(out, policyIsInForce(ps, out, a.deps.Now()))}
	if warning != "" {
		resp["warning"] = warning
	}
	operator.WriteJSON(w, http.StatusCreated, resp)
}

// policyIsInForce reports whether p is the version in force among ps.
func policyIsInForce(ps []consent.Policy, p consent.Policy, now time.Time) bool {
	i := policyInForce(ps, now)
	return i >= 0 && ps[i].Seq == p.Seq
}

// ---- Disclosure ------------------------------------------------------

// disclosureMedia is how one disclosure format is served.
type disclosureMedia struct {
	// Type is the format's media type, sent with a download (and with a
	// preview unless Markup).
	Type string `json:"type"`
	// Extension names the downloaded file.
	Extension string `json:"extension"`
	// PreviewType is what a preview is sent as.
	PreviewType string `json:"preview_type"`
}

// markupPreview is the preview type of formats a browser would render as
// a document (XML, HTML, SVG): as text, with nosniff, a preview opened in
// a tab can never become a page of the console's origin.
const markupPreview = "text/plain; charset=utf-8"

// disclosureMediaTypes covers every format of disclosure.Formats; a test
// fails when the generator gains one without an entry here.
var disclosureMediaTypes = map[string]disclosureMedia{
	disclosure.FormatText:     {Type: "text/plain; charset=utf-8", Extension: "txt"},
	disclosure.FormatMarkdown: {Type: "text/markdown; charset=utf-8", Extension: "md"}, // RFC 7763
	disclosure.FormatJSON:     {Type: "application/json", Extension: "json"},
	// An XML property list (PrivacyInfo.xcprivacy): markup.
	disclosure.FormatXCPrivacy: {Type: "application/x-plist", Extension: "xcprivacy", PreviewType: markupPreview},
	disclosure.FormatPlayCSV:   {Type: "text/csv; charset=utf-8", Extension: "csv"}, // RFC 4180
	disclosure.FormatFideslang: {Type: "application/yaml", Extension: "yaml"},       // RFC 9512
}

// mediaFor returns how format is served; an unknown format (a generator
// format without an entry) is served as an opaque download, never
// rendered.
func mediaFor(format string) disclosureMedia {
	m, ok := disclosureMediaTypes[format]
	if !ok {
		m = disclosureMedia{Type: "application/octet-stream", Extension: "bin", PreviewType: markupPreview}
	}
	if m.PreviewType == "" {
		m.PreviewType = m.Type
	}
	return m
}

// disclosureLangs are the languages disclosure.Generate writes.
var disclosureLangs = []string{"zh", "en"}

// disclosureQuery is a parsed GET …/disclosure query.
type disclosureQuery struct {
	Platform, Lang, Format string
	// Switches are the SDK init switches the app turns on (the server
	// does not store them per app, as for `parley disclosure --switch`).
	Switches map[string]bool
	Download bool
}

// errDisclosureQuery means a disclosure query is malformed.
var errDisclosureQuery = errors.New("disclosure query")

// parseDisclosureQuery reads platform (required), lang (default zh, as
// the CLI), format (default text, as the CLI), switches (comma-separated
// switch ids turned on) and download (1 or 0). Each may appear once;
// other parameters are ignored (a cache-buster, say). Every accepted
// value is from a fixed list, so the file name built from them is safe
// in a header.
func parseDisclosureQuery(q url.Values, inv *inventory.Inventory) (disclosureQuery, error) {
	one := func(k, def string) (string, error) {
		switch vs := q[k]; len(vs) {
		case 0:
			return def, nil
		case 1:
			return vs[0], nil
		default:
			return "", fmt.Errorf("%w: %s given %d times", errDisclosureQuery, k, len(vs))
		}
	}
	var (
		d   disclosureQuery
		err error
	)
	if d.Platform, err = one("platform", ""); err != nil {
		return disclosureQuery{}, err
	}
	if !slices.Contains(inventory.Platforms(), d.Platform) {
		return disclosureQuery{}, fmt.Errorf("%w: platform %q: want one of %s", errDisclosureQuery, d.Platform, strings.Join(inventory.Platforms(), ", "))
	}
	if d.Lang, err = one("lang", "zh"); err != nil {
		return disclosureQuery{}, err
	}
	if !slices.Contains(disclosureLangs, d.Lang) {
		return disclosureQuery{}, fmt.Errorf("%w: lang %q: want zh or en", errDisclosureQuery, d.Lang)
	}
	if d.Format, err = one("format", disclosure.FormatText); err != nil {
		return disclosureQuery{}, err
	}
	if !slices.Contains(disclosure.Formats(), d.Format) {
		return disclosureQuery{}, fmt.Errorf("%w: format %q: want one of %s", errDisclosureQuery, d.Format, strings.Join(disclosure.Formats(), ", "))
	}
	dl, err := one("download", "0")
	if err != nil {
		return disclosureQuery{}, err
	}
	switch dl {
	case "0", "":
	case "1":
		d.Download = true
	default:
		return disclosureQuery{}, fmt.Errorf("%w: download %q: want 1 or 0", errDisclosureQuery, dl)
	}
	sw, err := one("switches", "")
	if err != nil {
		return disclosureQuery{}, err
	}
	if sw != "" {
		d.Switches = map[string]bool{}
		for id := range strings.SplitSeq(sw, ",") {
			if _, ok := inv.Switch(id); !ok {
				return disclosureQuery{}, fmt.Errorf("%w: switch %q is not declared in the inventory (see GET /v1/console/disclosure/formats)", errDisclosureQuery, id)
			}
			d.Switches[id] = true
		}
	}
	return d, nil
}

// fileName is the download's name: parley-<sdkappid>-<platform>-<lang>.<ext>.
func (d disclosureQuery) fileName(app uint32) string {
	return fmt.Sprintf("parley-%d-%s-%s.%s", app, d.Platform, d.Lang, mediaFor(d.Format).Extension)
}

// serveDisclosure writes the app's disclosure (DISCLOSE-1) from the
// inventory and the app's stored settings, as GenerateDisclosure does,
// with the version and URL of the policy in force. The document is
// served with its media type: as an attachment with download=1, else as
// a preview the console shows in a <pre>. Every answer carries nosniff
// and a sandboxing CSP, so even a document opened directly in a tab runs
// nothing in the console's origin.
func (a *consoleAPI) serveDisclosure(w http.ResponseWriter, r *http.Request) {
	appID, err := a.pathApp(r)
	if err != nil {
		a.writePrivacyError(w, "looking up the app", err)
		return
	}
	d, err := parseDisclosureQuery(r.URL.Query(), a.inv)
	if err != nil {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "%v", err))
		return
	}
	ctx := r.Context()
	ap, err := a.apps.Get(ctx, appID)
	if err != nil {
		internalError(w, a.log, "looking up the app", err)
		return
	}
	ps, err := a.consent.Policies(ctx, appID)
	if err != nil {
		internalError(w, a.log, "listing policies", err)
		return
	}
	cfg := disclosure.AppConfig{SDKAppID: appID, AppName: ap.Name, Recording: ap.Settings.Recording,
		Relay: ap.Settings.Relay, Switches: d.Switches}
	if i := policyInForce(ps, a.deps.Now()); i >= 0 {
		cfg.PolicyVersion, cfg.PolicyURL = ps[i].Version, ps[i].URL
	}
	doc, err := disclosure.Generate(a.inv, cfg, disclosure.Options{Platform: d.Platform, Lang: d.Lang, Format: d.Format})
	if errors.Is(err, disclosure.ErrOptions) || errors.Is(err, disclosure.ErrConfig) {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "%v", err))
		return
	}
	if err != nil {
		internalError(w, a.log, "generating the disclosure", err)
		return
	}
	m := mediaFor(d.Format)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	if d.Download {
		h.Set("Content-Type", m.Type)
		h.Set("Content-Disposition", `attachment; filename="`+d.fileName(appID)+`"`)
	} else {
		h.Set("Content-Type", m.PreviewType)
	}
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// disclosureFormats lists what the disclosure endpoint accepts: formats,
// platforms and languages, plus how each format is served and the
// switches an app can turn on.
func (a *consoleAPI) disclosureFormats(w http.ResponseWriter, _ *http.Request) {
	media := map[string]disclosureMedia{}
	for _, f := range disclosure.Formats() {
		media[f] = mediaFor(f)
	}
	switches := a.inv.Switches
	if switches == nil {
		switches = []inventory.Switch{}
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{
		"formats": disclosure.Formats(), "platforms": inventory.Platforms(), "langs": disclosureLangs,
		"media": media, "switches": switches,
	})
}

// ---- Consent statistics ----------------------------------------------

type versionCountJSON struct {
	Version     string `json:"version"`
	Grants      int    `json:"grants"`
	Withdrawals int    `json:"withdrawals"`
}

type purposeCountJSON struct {
	Purpose string `json:"purpose"`
	Grants  int    `json:"grants"`
}

type methodCountJSON struct {
	Method string `json:"method"`
	Grants int    `json:"grants"`
}

// consentStatsJSON is GET …/consent/stats: counts of (user, device)
// pairs by their consent in force, never an identifier (apps.read).
type consentStatsJSON struct {
	Granted   int                `json:"granted"`
	Withdrawn int                `json:"withdrawn"`
	ByVersion []versionCountJSON `json:"by_version"`
	ByPurpose []purposeCountJSON `json:"by_purpose"`
	ByMethod  []methodCountJSON  `json:"by_method"`
}

func (a *consoleAPI) consentStats(w http.ResponseWriter, r *http.Request) {
	app, err := a.pathApp(r)
	if err != nil {
		a.writePrivacyError(w, "looking up the app", err)
		return
	}
	b, err := a.consent.Breakdown(r.Context(), app)
	if err != nil {
		internalError(w, a.log, "consent statistics", err)
		return
	}
	out := consentStatsJSON{Granted: b.Granted, Withdrawn: b.Withdrawn,
		ByVersion: make([]versionCountJSON, len(b.ByVersion)),
		ByPurpose: make([]purposeCountJSON, len(b.ByPurpose)),
		ByMethod:  make([]methodCountJSON, len(b.ByMethod))}
	for i, v := range b.ByVersion {
		out.ByVersion[i] = versionCountJSON(v)
	}
	for i, p := range b.ByPurpose {
		out.ByPurpose[i] = purposeCountJSON(p)
	}
	for i, m := range b.ByMethod {
		out.ByMethod[i] = methodCountJSON(m)
	}
	operator.WriteJSON(w, http.StatusOK, out)
}

// ---- Data-subject requests -------------------------------------------

// Console DSR queue bounds; the store caps a listing at 1000.
const (
	defaultDSRQueue = 100
	maxDSRQueue     = 1000
)

// refusalJSON is why a request was refused: a coded ground (RIGHTS-5)
// and its explanation.
type refusalJSON struct {
	Ground  string `json:"ground"`
	Message string `json:"message"`
}

// consoleDSRJSON is a data-subject request in the console. It names the
// user only by the request's commitment, as the REST API does.
type consoleDSRJSON struct {
	ID           string     `json:"id"`
	SDKAppID     uint32     `json:"sdkappid"`
	Type         string     `json:"type"`
	State        string     `json:"state"`
	Source       string     `json:"source"`
	Subject      string     `json:"subject"`
	ReceivedAt   time.Time  `json:"received_at"`
	VerifiedAt   *time.Time `json:"verified_at"`
	ProcessingAt *time.Time `json:"processing_at"`
	// Deadline is 15 working days after receipt (RIGHTS-4).
	Deadline time.Time `json:"deadline"`
	// CompletedAt is when the request was answered, completed or
	// refused; null while it is open.
	CompletedAt *time.Time `json:"completed_at"`
	// Overdue: answered after the deadline, or still open past it.
	Overdue bool         `json:"overdue"`
	Refusal *refusalJSON `json:"refusal"`
}

func dsrTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toConsoleDSR(r dsr.Request, now time.Time) consoleDSRJSON {
	out := consoleDSRJSON{ID: r.ID, SDKAppID: r.SDKAppID, Type: string(r.Type), State: string(r.State),
		Source: string(r.Source), Subject: r.Subject, ReceivedAt: r.ReceivedAt.UTC(),
		VerifiedAt: dsrTime(r.VerifiedAt), ProcessingAt: dsrTime(r.ProcessingAt),
		Deadline: r.DueAt.UTC(), CompletedAt: dsrTime(r.FinishedAt)}
	answered := r.State == dsr.StateCompleted || r.State == dsr.StateRefused
	if !answered {
		out.CompletedAt = nil
	}
	switch {
	case answered && !r.FinishedAt.IsZero():
		out.Overdue = r.FinishedAt.After(r.DueAt)
	case !answered:
		out.Overdue = now.After(r.DueAt)
	}
	if r.State == dsr.StateRefused {
		out.Refusal = &refusalJSON{Ground: string(r.Ground), Message: r.Message}
	}
	return out
}

// dsrRights returns the rights engine, or a 503 when this process runs
// without one.
func (a *consoleAPI) dsrRights() (*Rights, error) {
	if a.deps.Rights == nil || a.deps.Rights.Engine == nil || a.deps.Rights.Audit == nil {
		return nil, operator.Errorf(http.StatusServiceUnavailable, "unavailable", "the data-subject rights engine is not running in this process")
	}
	return a.deps.Rights, nil
}

// parseDSRLimit reads the queue's limit: 1-maxDSRQueue, default
// defaultDSRQueue.
func parseDSRLimit(q url.Values) (int, error) {
	vs := q["limit"]
	switch {
	case len(vs) == 0:
		return defaultDSRQueue, nil
	case len(vs) > 1:
		return 0, fmt.Errorf("limit given %d times", len(vs))
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < 1 || n > maxDSRQueue {
		return 0, fmt.Errorf("limit: want 1-%d", maxDSRQueue)
	}
	return n, nil
}

// readDSRQueue is the audited read of an app's requests, newest first.
func (a *consoleAPI) readDSRQueue(r *http.Request, _ operator.Operator) (operator.Read, error) {
	rt, err := a.dsrRights()
	if err != nil {
		return operator.Read{}, err
	}
	app, err := a.pathApp(r)
	if err != nil {
		return operator.Read{}, err
	}
	q := r.URL.Query()
	limit, err := parseDSRLimit(q)
	if err != nil {
		return operator.Read{}, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "%v", err)
	}
	var filters []string
	if q.Has("limit") {
		filters = append(filters, "limit")
	}
	rs, err := rt.Engine.List(r.Context(), app, limit)
	if err != nil {
		return operator.Read{}, err
	}
	now := a.deps.Now()
	out := make([]consoleDSRJSON, len(rs))
	for i, req := range rs {
		out[i] = toConsoleDSR(req, now)
	}
	return operator.Read{SDKAppID: app, Records: len(out), Filters: filters,
		Body: map[string]any{"requests": out}}, nil
}

// proofJSONConsole is an inclusion proof in console field style; the
// REST API's proofJSON has the same content.
type proofJSONConsole struct {
	Seq        int64    `json:"seq"`
	Record     string   `json:"record"`
	Hashes     []string `json:"hashes"`
	Checkpoint string   `json:"checkpoint"`
	// AuditKey verifies Checkpoint's signature (note verifier key).
	AuditKey string `json:"audit_key"`
}

// validDSRID reports whether id has the engine's form: 16 random bytes
// in lowercase hex.
func validDSRID(id string) bool {
	if len(id) != 32 || strings.ToLower(id) != id {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// readDSR is the audited read of one request, with its signed receipt
// and the receipt's inclusion proof in the audit log, as the REST API's
// DescribeDataSubjectRequest returns them.
func (a *consoleAPI) readDSR(r *http.Request, _ operator.Operator) (operator.Read, error) {
	rt, err := a.dsrRights()
	if err != nil {
		return operator.Read{}, err
	}
	id := r.PathValue("id")
	if !validDSRID(id) {
		return operator.Read{}, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "request id: want 32 lowercase hex digits")
	}
	ctx := r.Context()
	req, err := rt.Engine.Get(ctx, id)
	if errors.Is(err, dsr.ErrNotFound) {
		return operator.Read{}, operator.Errorf(http.StatusNotFound, "not_found", "no data-subject request %s", id)
	}
	if err != nil {
		return operator.Read{}, err
	}
	body := map[string]any{
		"request": toConsoleDSR(req, a.deps.Now()),
		"receipt": nil, "proof": nil,
		// The key receipts must verify with; the receipt carries a
		// copy, which proves nothing on its own.
		"receipt_key": base64.StdEncoding.EncodeToString(rt.Engine.PublicKey()),
	}
	if len(req.Receipt) > 0 {
		body["receipt"] = string(req.Receipt)
	}
	p, err := receiptProof(ctx, rt.Audit, req)
	if err != nil {
		return operator.Read{}, err
	}
	if p != nil {
		body["proof"] = proofJSONConsole{Seq: p.Seq, Record: string(p.Record), Hashes: proofHashes(*p),
			Checkpoint: string(p.Checkpoint), AuditKey: rt.AuditKey}
	}
	return operator.Read{SDKAppID: req.SDKAppID, Records: 1, Body: body}, nil
}
