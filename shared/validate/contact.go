package validate

import (
	"errors"
	"strings"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Phone normalises one phone number exactly as Fields normalises a phone
// field (E.164), for what is matched against leads: searches and
// suppression lists.
func Phone(s string) (string, error) {
	return single(&config.Field{Type: config.TypePhone}, s)
}

// Email normalises one email address exactly as Fields normalises an
// email field (the domain lower-cased).
func Email(s string) (string, error) {
	return single(&config.Field{Type: config.TypeEmail}, s)
}

func single(f *config.Field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", errors.New("is empty")
	}
	v, p := normalise(f, s)
	if p.code != "" {
		return "", errors.New(p.message)
	}
	return v.(string), nil
}
