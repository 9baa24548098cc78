package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The configuration file is YAML: a mapping of flag names to values. It is read into yaml.v3's
// node tree rather than a struct, so that the flags stay the one list of settings, and checked
// strictly against them: an unknown key, a key given twice or a value of the wrong type is an
// error naming the key and its line.

// applyFile sets, from the file, every flag that is not in set (given by a flag or the
// environment).
func applyFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if dec.Decode(new(yaml.Node)) != io.EOF {
		return fmt.Errorf("%s: more than one YAML document", path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: the configuration must be a mapping of flag names to values (data-dir: /var/lib/ivschatd)", path, root.Line)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		at := fmt.Sprintf("%s:%d", path, k.Line)
		if line, dup := seen[name]; dup {
			return fmt.Errorf("%s: %s is set twice (first at line %d)", at, name, line)
		}
		seen[name] = k.Line
		f := fs.Lookup(name)
		if f == nil || notInFile[name] || k.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: unknown key %q: not a setting of ivschatd (see ivschatd --help)", at, name)
		}
		values, err := fileValues(f, v)
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, v.Line, name, err)
		}
		if set[name] {
			continue // a flag or the environment wins
		}
		for _, x := range values {
			if err := f.Value.Set(x); err != nil {
				return fmt.Errorf("%s:%d: %s: %w", path, v.Line, name, err)
			}
		}
	}
	return nil
}

// fileValues checks a value's YAML type against its flag's and returns what to Set.
func fileValues(f *flag.Flag, v *yaml.Node) ([]string, error) {
	kind := kindOf(f)
	if kind == kindList || kind == kindPairs {
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				return nil, nil
			}
			return []string{v.Value}, nil
		case yaml.SequenceNode:
			var out []string
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
					return nil, fmt.Errorf("line %d: each item must be a string", item.Line)
				}
				out = append(out, item.Value)
			}
			return out, nil
		case yaml.MappingNode:
			if kind != kindPairs {
				break
			}
			var out []string
			for i := 0; i+1 < len(v.Content); i += 2 {
				key, val := v.Content[i], v.Content[i+1]
				if key.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("line %d: each entry must be KEY: VALUE", key.Line)
				}
				out = append(out, key.Value+"="+val.Value)
			}
			return out, nil
		}
		return nil, fmt.Errorf("must be a list or a comma-separated string")
	}
	if v.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("must be %s, not a %s", kind, nodeKind(v))
	}
	ok := false
	switch kind {
	case kindBool:
		ok = v.Tag == "!!bool"
	case kindInt:
		ok = v.Tag == "!!int"
	case kindFloat:
		ok = v.Tag == "!!int" || v.Tag == "!!float"
	case kindDuration:
		ok = v.Tag == "!!str" || (v.Tag == "!!int" && v.Value == "0")
		if _, err := time.ParseDuration(v.Value); ok && err != nil {
			return nil, err
		}
	case kindString:
		ok = v.Tag != "!!null" || v.Value == ""
	}
	if !ok {
		return nil, fmt.Errorf("must be %s, not %q", kind, v.Value)
	}
	return []string{v.Value}, nil
}

func nodeKind(v *yaml.Node) string {
	switch v.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "value of another kind"
}

// settingKind is the type of a flag's value, as the file and `ivschatd config` write it.
type settingKind string

const (
	kindBool     settingKind = "true or false"
	kindInt      settingKind = "an integer"
	kindFloat    settingKind = "a number"
	kindDuration settingKind = "a duration (200ms, 5s, 1h)"
	kindString   settingKind = "a string"
	kindList     settingKind = "a list"
	kindPairs    settingKind = "a mapping"
)

func kindOf(f *flag.Flag) settingKind {
	switch f.Value.(type) {
	case pairsFlag:
		return kindPairs
	case prefixList:
		return kindList
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return kindString
	}
	switch g.Get().(type) {
	case bool:
		return kindBool
	case int, int64, uint, uint64:
		return kindInt
	case float64:
		return kindFloat
	case time.Duration:
		return kindDuration
	}
	return kindString
}

// printConfig writes every setting's effective value as a configuration file that loads back
// to the same configuration. Passwords in URLs are masked.
func printConfig(w io.Writer, fs *flag.FlagSet) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	fs.VisitAll(func(f *flag.Flag) {
		if notInFile[f.Name] {
			return
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, valueNode(f))
	})
	fmt.Fprintln(w, "# ivschatd configuration in effect: each setting from its flag, else its environment")
	fmt.Fprintln(w, "# variable, else the --config file, else its default. Passwords in URLs are masked.")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return err
	}
	return enc.Close()
}

func valueNode(f *flag.Flag) *yaml.Node {
	scalar := func(tag, v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }
	switch kind := kindOf(f); kind {
	case kindPairs:
		m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		p := f.Value.(pairsFlag)
		if p.pairs != nil {
			keys := make([]string, 0, len(*p.pairs))
			for k := range *p.pairs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				m.Content = append(m.Content, scalar("!!str", k), scalar("!!str", maskURLs((*p.pairs)[k])))
			}
		}
		return m
	case kindList:
		s := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for item := range strings.SplitSeq(f.Value.String(), ",") {
			if item != "" {
				s.Content = append(s.Content, scalar("!!str", item))
			}
		}
		return s
	case kindBool:
		return scalar("!!bool", f.Value.String())
	case kindInt:
		return scalar("!!int", f.Value.String())
	case kindFloat:
		return scalar("", f.Value.String()) // 100 reads back as a number either way
	default:
		return scalar("!!str", maskURLs(f.Value.String()))
	}
}

// maskURLs hides the passwords of the URLs in a comma-separated list.
func maskURLs(v string) string {
	if !strings.Contains(v, "@") {
		return v
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx") // a token alone
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
