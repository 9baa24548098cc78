package main

import (
	"fmt"
	"sort"
	"strings"
)

// pairsFlag is a repeatable KEY=VALUE flag filling a map; in the environment the pairs are
// comma-separated. check validates a pair and may rewrite its value.
type pairsFlag struct {
	pairs *map[string]string
	form  string // how a pair is described in errors, e.g. "<bucket>=<directory>"
	check func(key, value string) (string, bool)
}

func (f pairsFlag) String() string {
	if f.pairs == nil {
		return ""
	}
	var parts []string
	for k, v := range *f.pairs {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f pairsFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, value, ok := strings.Cut(item, "=")
		if ok {
			value, ok = f.check(key, value)
		}
		if !ok {
			return fmt.Errorf("%q is not %s", item, f.form)
		}
		if *f.pairs == nil {
			*f.pairs = map[string]string{}
		}
		(*f.pairs)[key] = value
	}
	return nil
}
