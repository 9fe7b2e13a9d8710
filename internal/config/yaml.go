package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseYAML decodes a configuration file over the defaults, strictly: an
// unknown key, a second document or a value of the wrong type is an error.
// A key with an empty (null) value keeps its default. The result is not
// validated; Load does that after the environment and flags are applied.
func ParseYAML(b []byte) (Config, error) {
	c := Default()
	if err := decodeYAML("", b, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeYAML overlays the YAML document b onto c. name prefixes positions
// in errors ("parley.yaml:3: ...").
func decodeYAML(name string, b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file means all defaults
		}
		return fmt.Errorf("%w: %s", ErrFile, prefixPos(name, err.Error()))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: more than one YAML document", ErrFile, pos(name, extra.Line))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s: the top level must be a mapping of keys", ErrFile, pos(name, root.Line))
	}
	// The walk finds unknown keys with their full dotted path, which the
	// decoder's own KnownFields message ("field x not found in type
	// config.MediaConfig") does not give, and drops null values so they
	// keep the defaults instead of zeroing a whole section.
	w := walker{name: name, keysAt: map[int][]string{}}
	w.walk(root, reflect.TypeFor[Config](), "", 0)
	if len(w.errs) > 0 {
		return errors.Join(w.errs...)
	}
	if err := root.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, 0, len(te.Errors))
			for _, msg := range te.Errors {
				errs = append(errs, fmt.Errorf("%w: %s", ErrFile, w.describe(msg)))
			}
			return errors.Join(errs...)
		}
		return fmt.Errorf("%w: %s", ErrFile, prefixPos(name, err.Error()))
	}
	return nil
}

// maxMergeDepth bounds merge-key ("<<") recursion so a hostile file cannot
// make the walk deep; real files use one level.
const maxMergeDepth = 4

type walker struct {
	name   string
	errs   []error
	keysAt map[int][]string // line → dotted keys of scalar values on it
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, prefix string, merges int) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		// The decoder reports the type mismatch with its line.
		return
	}
	fields := yamlFields(t)
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.errs = append(w.errs, fmt.Errorf("%w: %s: keys must be plain names", ErrFile, pos(w.name, k.Line)))
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			if merges >= maxMergeDepth {
				w.errs = append(w.errs, fmt.Errorf("%w: %s: merge keys nested too deeply", ErrFile, pos(w.name, k.Line)))
				continue
			}
			w.walkMerge(v, t, prefix, merges+1)
			kept = append(kept, k, v)
			continue
		}
		path := prefix + k.Value
		f, ok := fields[k.Value]
		if !ok {
			w.errs = append(w.errs, fmt.Errorf("%w: %s: unknown key %q", ErrFile, pos(w.name, k.Line), path))
			continue
		}
		if isNull(v) {
			continue // keep the default
		}
		if f.Type.Kind() == reflect.Struct {
			w.walk(v, f.Type, path+".", merges)
		} else {
			w.keysAt[v.Line] = append(w.keysAt[v.Line], path)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

func (w *walker) walkMerge(v *yaml.Node, t reflect.Type, prefix string, merges int) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			w.walk(item, t, prefix, merges)
		}
		return
	}
	w.walk(v, t, prefix, merges)
}

// yamlFields maps yaml key names to the fields of struct type t.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = f
	}
	return m
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// splitLine splits the position the yaml package puts in its messages
// ("yaml: line 4: rest") from the rest.
func splitLine(msg string) (line int, rest string, ok bool) {
	s := strings.TrimPrefix(msg, "yaml: ")
	s, found := strings.CutPrefix(s, "line ")
	if !found {
		return 0, "", false
	}
	num, rest, found := strings.Cut(s, ": ")
	if !found {
		return 0, "", false
	}
	line, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", false
	}
	return line, rest, true
}

// describe turns "line 4: cannot unmarshal !!str `x` into int" into
// "parley.yaml:4: media.udp_port: cannot unmarshal !!str `x` into int".
func (w *walker) describe(msg string) string {
	line, rest, ok := splitLine(msg)
	if !ok {
		return msg
	}
	if keys := w.keysAt[line]; len(keys) == 1 {
		return pos(w.name, line) + ": " + keys[0] + ": " + rest
	}
	return pos(w.name, line) + ": " + rest
}

func prefixPos(name, msg string) string {
	line, rest, ok := splitLine(msg)
	if !ok {
		return strings.TrimPrefix(msg, "yaml: ")
	}
	return pos(name, line) + ": " + rest
}

func pos(name string, line int) string {
	if name == "" {
		return "line " + strconv.Itoa(line)
	}
	return name + ":" + strconv.Itoa(line)
}
