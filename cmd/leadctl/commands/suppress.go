package commands

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// suppressCmd is leadctl suppress import|remove FILE.csv: suppression
// lists (do not contact) from CSV files of any size, sent in batches.
func suppressCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "suppress", Short: "Suppression lists: phone numbers and email addresses ingest refuses"}
	var list string
	var batch int
	for _, verb := range []string{"import", "remove"} {
		sub := &cobra.Command{
			Use:  verb + " FILE.csv",
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runSuppress(cmd, g, verb == "import", args[0], list, batch)
			},
		}
		if verb == "import" {
			sub.Short = "Put the file's values on a suppression list (one value a line, or columns phone,email); - for standard input"
			sub.Flags().StringVar(&list, "list", "dnc", "the suppression list")
		} else {
			sub.Short = "Take the file's values off the suppression lists"
		}
		sub.Flags().IntVar(&batch, "batch", 500, "values a request (1 to 5000)")
		cmd.AddCommand(sub)
	}
	return cmd
}

// suppressChunk is one request's CSV, with the file line of each of its
// lines.
type suppressChunk struct {
	body  []byte
	lines map[int]int // the chunk's line → the file's
	text  map[int]string
	n     int
}

type invalidLine struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

func runSuppress(cmd *cobra.Command, g *globals, add bool, file, list string, batch int) error {
	if batch < 1 || batch > 5000 {
		return fmt.Errorf("--batch %d: want 1 to 5000", batch)
	}
	var raw []byte
	var err error
	if file == "-" {
		raw, err = io.ReadAll(g.in)
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("read suppression file: %w", err)
	}
	chunks, total, err := suppressChunks(raw, batch)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if total == 0 {
		return fmt.Errorf("%s holds no values", file)
	}
	c, err := newClient(cmd.Context(), g)
	if err != nil {
		return err
	}
	method, path := "DELETE", "/v1/admin/suppressions"
	if add {
		method, path = "POST", path+"?list="+url.QueryEscape(list)
	}
	errOut := cmd.ErrOrStderr()
	done, written := 0, 0
	var invalid []invalidLine
	progress(errOut, done, total)
	for _, ch := range chunks {
		var res struct {
			Added   int           `json:"added"`
			Removed int           `json:"removed"`
			Invalid []invalidLine `json:"invalid"`
		}
		_, err := c.do(cmd.Context(), request{method: method, path: path, body: ch.body, contentType: "text/csv"}, &res)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Detail.Code == "validation_failed" && allLines(ae):
			// No value of this batch was valid: each is named by its line.
			for _, f := range ae.Detail.Fields {
				res.Invalid = append(res.Invalid, invalidLine{Line: f.Line, Value: ch.text[f.Line], Message: f.Message})
			}
		case err != nil:
			fmt.Fprintln(errOut)
			return fmt.Errorf("after %d of %d value(s): %w", done, total, err)
		}
		written += res.Added + res.Removed
		for _, v := range res.Invalid {
			v.Line = ch.lines[v.Line]
			invalid = append(invalid, v)
		}
		done += ch.n
		progress(errOut, done, total)
	}
	fmt.Fprintln(errOut)
	out := cmd.OutOrStdout()
	if add {
		fmt.Fprintf(out, "Added %d value(s) to list %s", written, list)
	} else {
		fmt.Fprintf(out, "Removed %d value(s)", written)
	}
	fmt.Fprintf(out, "; %d invalid.\n", len(invalid))
	for _, v := range invalid {
		fmt.Fprintf(out, "  line %d: %q: %s\n", v.Line, v.Value, v.Message)
	}
	return nil
}

func allLines(ae *apiError) bool {
	for _, f := range ae.Detail.Fields {
		if f.Line == 0 {
			return false
		}
	}
	return len(ae.Detail.Fields) > 0
}

// suppressChunks splits a suppression CSV into requests of at most batch
// lines, each with the file's header (columns phone and email) if it has
// one. It returns the number of value lines.
func suppressChunks(raw []byte, batch int) ([]suppressChunk, int, error) {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var header []string
	var chunks []suppressChunk
	var cur *suppressChunk
	var buf bytes.Buffer
	var w *csv.Writer
	line, total := 0, 0
	flush := func() {
		if cur != nil {
			w.Flush()
			cur.body = bytes.Clone(buf.Bytes())
			chunks = append(chunks, *cur)
			cur = nil
		}
	}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		fileLine, _ := cr.FieldPos(0)
		if first && isSuppressionHeader(rec) {
			header = rec
			continue
		}
		if cur == nil {
			buf.Reset()
			w = csv.NewWriter(&buf)
			cur = &suppressChunk{lines: map[int]int{}, text: map[int]string{}}
			line = 1
			if header != nil {
				_ = w.Write(header)
				line++
			}
		}
		cur.lines[line] = fileLine
		cur.text[line] = strings.Join(rec, ",")
		_ = w.Write(rec)
		w.Flush()
		line = bytes.Count(buf.Bytes(), []byte("\n")) + 1
		cur.n++
		total++
		if cur.n == batch {
			flush()
		}
	}
	flush()
	return chunks, total, nil
}

// isSuppressionHeader reports whether a suppression CSV's first record
// names its columns (as the server decides it): each one phone or email.
func isSuppressionHeader(rec []string) bool {
	for _, c := range rec {
		if c := strings.ToLower(strings.TrimSpace(c)); c != "phone" && c != "email" {
			return false
		}
	}
	return len(rec) > 0
}

// progress draws a text progress bar on one line of w.
func progress(w io.Writer, done, total int) {
	const width = 30
	filled := width
	if total > 0 {
		filled = done * width / total
	}
	fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
}
