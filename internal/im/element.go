package im

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"unicode/utf8"
)

// Element type names, as in TIM's MsgBody (REFERENCE §2 element list).
const (
	TypeText     = "TIMTextElem"
	TypeCustom   = "TIMCustomElem"
	TypeImage    = "TIMImageElem"
	TypeSound    = "TIMSoundElem"
	TypeVideo    = "TIMVideoFileElem"
	TypeFile     = "TIMFileElem"
	TypeLocation = "TIMLocationElem"
	TypeMerger   = "TIMRelayElem"
)

// Media size limits (REFERENCE §2 "Limits": files 100 MB, image/voice 28 MB).
// Parley stores references only, never the file content.
const (
	maxImageBytes = 28 << 20
	maxSoundBytes = 28 << 20
	maxFileBytes  = 100 << 20
	maxElements   = 32
	maxAbstracts  = 10
	maxMergerRefs = 100
	maxURLBytes   = 2048
)

// Element is one part of a message body. The concrete types are Text,
// Custom, Image, Sound, Video, File, Location and Merger.
type Element interface {
	// ElemType is the TIM MsgType name.
	ElemType() string
	validate() error
}

// Text is a text element.
type Text struct {
	Text string `json:"Text"`
}

// Custom carries application data; Data must be JSON.
type Custom struct {
	Data string `json:"Data"`
	Desc string `json:"Desc,omitempty"`
	Ext  string `json:"Ext,omitempty"`
}

// Image references an image hosted elsewhere.
type Image struct {
	URL    string `json:"URL"`
	Format string `json:"Format,omitempty"`
	Size   int64  `json:"Size"`
	Width  int    `json:"Width,omitempty"`
	Height int    `json:"Height,omitempty"`
}

// Sound references a voice clip.
type Sound struct {
	URL     string `json:"URL"`
	Size    int64  `json:"Size"`
	Seconds int    `json:"Second"`
}

// Video references a video file and its thumbnail.
type Video struct {
	URL      string `json:"URL"`
	Size     int64  `json:"Size"`
	Seconds  int    `json:"Second"`
	Format   string `json:"Format,omitempty"`
	ThumbURL string `json:"ThumbURL,omitempty"`
}

// File references a file.
type File struct {
	URL  string `json:"URL"`
	Name string `json:"FileName"`
	Size int64  `json:"FileSize"`
}

// Location is a geographic point.
type Location struct {
	Desc      string  `json:"Desc,omitempty"`
	Latitude  float64 `json:"Latitude"`
	Longitude float64 `json:"Longitude"`
}

// MessageRef names a stored message by conversation and seq (REFERENCE §2:
// (GroupId, MsgSeq) identifies a message).
type MessageRef struct {
	Conv string `json:"Conv"`
	Seq  int64  `json:"Seq"`
}

// Merger is a merged-forward of other messages, by reference.
type Merger struct {
	Title     string       `json:"Title"`
	Abstracts []string     `json:"AbstractList,omitempty"`
	Messages  []MessageRef `json:"MsgList"`
}

// ElemType implements Element.
func (Text) ElemType() string { return TypeText }

// ElemType implements Element.
func (Custom) ElemType() string { return TypeCustom }

// ElemType implements Element.
func (Image) ElemType() string { return TypeImage }

// ElemType implements Element.
func (Sound) ElemType() string { return TypeSound }

// ElemType implements Element.
func (Video) ElemType() string { return TypeVideo }

// ElemType implements Element.
func (File) ElemType() string { return TypeFile }

// ElemType implements Element.
func (Location) ElemType() string { return TypeLocation }

// ElemType implements Element.
func (Merger) ElemType() string { return TypeMerger }

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, a...))
}

func checkText(field, s string, required bool) error {
	if required && s == "" {
		return invalid("%s is empty", field)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not UTF-8", field)
	}
	return nil
}

// checkURL accepts absolute http(s) URLs only: elements are references,
// never inline content (issue 4 item 2).
func checkURL(field, s string, required bool) error {
	if s == "" && !required {
		return nil
	}
	if len(s) > maxURLBytes {
		return invalid("%s longer than %d bytes", field, maxURLBytes)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("%s %q is not an absolute http(s) URL", field, s)
	}
	return nil
}

func checkSize(field string, n, limit int64) error {
	if n < 0 || n > limit {
		return invalid("%s %d outside [0, %d]", field, n, limit)
	}
	return nil
}

func (e Text) validate() error { return checkText("Text", e.Text, true) }

func (e Custom) validate() error {
	if !json.Valid([]byte(e.Data)) {
		return invalid("Custom Data is not JSON")
	}
	if err := checkText("Desc", e.Desc, false); err != nil {
		return err
	}
	return checkText("Ext", e.Ext, false)
}

func (e Image) validate() error {
	if err := checkURL("URL", e.URL, true); err != nil {
		return err
	}
	if e.Width < 0 || e.Height < 0 {
		return invalid("negative image dimensions")
	}
	return checkSize("Size", e.Size, maxImageBytes)
}

func (e Sound) validate() error {
	if err := checkURL("URL", e.URL, true); err != nil {
		return err
	}
	if e.Seconds < 0 {
		return invalid("negative duration")
	}
	return checkSize("Size", e.Size, maxSoundBytes)
}

func (e Video) validate() error {
	if err := checkURL("URL", e.URL, true); err != nil {
		return err
	}
	if err := checkURL("ThumbURL", e.ThumbURL, false); err != nil {
		return err
	}
	if e.Seconds < 0 {
		return invalid("negative duration")
	}
	return checkSize("Size", e.Size, maxFileBytes)
}

func (e File) validate() error {
	if err := checkURL("URL", e.URL, true); err != nil {
		return err
	}
	if err := checkText("FileName", e.Name, false); err != nil {
		return err
	}
	return checkSize("FileSize", e.Size, maxFileBytes)
}

func (e Location) validate() error {
	if math.IsNaN(e.Latitude) || e.Latitude < -90 || e.Latitude > 90 {
		return invalid("Latitude %v outside [-90, 90]", e.Latitude)
	}
	if math.IsNaN(e.Longitude) || e.Longitude < -180 || e.Longitude > 180 {
		return invalid("Longitude %v outside [-180, 180]", e.Longitude)
	}
	return checkText("Desc", e.Desc, false)
}

func (e Merger) validate() error {
	if err := checkText("Title", e.Title, true); err != nil {
		return err
	}
	if len(e.Abstracts) > maxAbstracts {
		return invalid("more than %d abstracts", maxAbstracts)
	}
	for _, a := range e.Abstracts {
		if err := checkText("abstract", a, false); err != nil {
			return err
		}
	}
	if len(e.Messages) == 0 || len(e.Messages) > maxMergerRefs {
		return invalid("merger needs 1 to %d message references", maxMergerRefs)
	}
	for _, r := range e.Messages {
		if _, err := ParseConv(r.Conv); err != nil || r.Seq < 1 {
			return invalid("bad message reference %q/%d", r.Conv, r.Seq)
		}
	}
	return nil
}

// ValidateElements checks a message body: 1 to 32 elements, each valid.
func ValidateElements(els []Element) error {
	if len(els) == 0 || len(els) > maxElements {
		return invalid("a message has 1 to %d elements, got %d", maxElements, len(els))
	}
	for i, e := range els {
		if e == nil {
			return invalid("element %d is nil", i)
		}
		if err := e.validate(); err != nil {
			return fmt.Errorf("element %d (%s): %w", i, e.ElemType(), err)
		}
	}
	return nil
}

type wireElement struct {
	MsgType    string          `json:"MsgType"`
	MsgContent json.RawMessage `json:"MsgContent"`
}

// EncodeElements encodes a body as TIM's MsgBody array:
// [{"MsgType": "TIMTextElem", "MsgContent": {...}}, ...].
func EncodeElements(els []Element) ([]byte, error) {
	wire := make([]wireElement, len(els))
	for i, e := range els {
		if e == nil {
			return nil, invalid("element %d is nil", i)
		}
		c, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("%w: element %d: %w", ErrInvalidMessage, i, err)
		}
		wire[i] = wireElement{MsgType: e.ElemType(), MsgContent: c}
	}
	return json.Marshal(wire)
}

// strictUnmarshal decodes exactly one JSON value into v, rejecting unknown
// fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

func decodeAs[T Element](b []byte) (Element, error) {
	var v T
	if err := strictUnmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeElements decodes and validates a MsgBody array from a client.
// Unknown element types, unknown fields, null contents and trailing data
// are rejected (ErrInvalidMessage). Note: encoding/json matches field
// names case-insensitively and keeps the last of duplicate keys.
func DecodeElements(b []byte) ([]Element, error) {
	var wire []wireElement
	if err := strictUnmarshal(b, &wire); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if len(wire) == 0 || len(wire) > maxElements {
		return nil, invalid("a message has 1 to %d elements, got %d", maxElements, len(wire))
	}
	els := make([]Element, len(wire))
	for i, w := range wire {
		if len(w.MsgContent) == 0 || w.MsgContent[0] != '{' {
			return nil, invalid("element %d: MsgContent must be an object", i)
		}
		var (
			e   Element
			err error
		)
		switch w.MsgType {
		case TypeText:
			e, err = decodeAs[Text](w.MsgContent)
		case TypeCustom:
			e, err = decodeAs[Custom](w.MsgContent)
		case TypeImage:
			e, err = decodeAs[Image](w.MsgContent)
		case TypeSound:
			e, err = decodeAs[Sound](w.MsgContent)
		case TypeVideo:
			e, err = decodeAs[Video](w.MsgContent)
		case TypeFile:
			e, err = decodeAs[File](w.MsgContent)
		case TypeLocation:
			e, err = decodeAs[Location](w.MsgContent)
		case TypeMerger:
			e, err = decodeAs[Merger](w.MsgContent)
		default:
			return nil, invalid("element %d: unknown MsgType %q", i, w.MsgType)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: element %d (%s): %w", ErrInvalidMessage, i, w.MsgType, err)
		}
		els[i] = e
	}
	if err := ValidateElements(els); err != nil {
		return nil, err
	}
	return els, nil
}
