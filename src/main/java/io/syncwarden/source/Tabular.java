package io.syncwarden.source;

import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.TargetTable;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Header-to-column mapping shared by the kinds that read tables with a header row (CSV reports, sheets). */
final class Tabular {
    private Tabular() {
    }

    /** Report labels compare after folding white space (labels carry line breaks in the UI) and case. */
    static String normalise(String label) {
        return label.replace("\uFEFF", "").replaceAll("\\s+", " ").trim().toLowerCase(Locale.ROOT);
    }

    /**
     * The {@code left=right} entries of a {@code ;}-separated parameter, in order; blank entries are skipped, an entry
     * without {@code =} (or with nothing left of it) fails naming the parameter and the form it takes. {@code lastEquals}
     * splits at the last {@code =} (report labels may contain one).
     */
    static List<String[]> entries(String text, String id, String what, String form, boolean lastEquals) {
        List<String[]> out = new ArrayList<>();
        if (text == null) {
            return out;
        }
        for (String pair : text.split(";")) {
            if (pair.isBlank()) {
                continue;
            }
            int eq = lastEquals ? pair.lastIndexOf('=') : pair.indexOf('=');
            if (eq <= 0) {
                throw new NonRecoverableSyncException("Source " + id + ": " + what + " entry '" + pair.trim() + "' is not '" + form + "'");
            }
            out.add(new String[] {pair.substring(0, eq), pair.substring(eq + 1).trim()});
        }
        return out;
    }

    /** {@code "Product ID=product_id; Units QoH=units_qoh"}: report label to table column, in table order. */
    static Map<String, String> parseMapping(String text, String id) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String[] e : entries(text, id, "mapping", "Report label=column", true)) {
            out.put(normalise(e[0]), TargetTable.identifier("Column", e[1]));
        }
        return out;
    }

    /**
     * {@code "units_qoh=NUMERIC(18,4); updated=TIMESTAMP"}: SQL types of created tables (others are text), each checked
     * against the type grammar before it can reach DDL.
     */
    static Map<String, String> parseTypes(String text, String id) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String[] e : entries(text, id, "columnTypes", "column=TYPE", false)) {
            String column = TargetTable.identifier("columnTypes column", e[0].trim());
            try {
                out.put(column, TargetTable.sqlType(column, e[1]));
            } catch (NonRecoverableSyncException x) {
                throw new NonRecoverableSyncException("Source " + id + ": " + x.getMessage());
            }
        }
        return out;
    }

    /** {@code "created=M/d/yyyy"}: column to a free-form setting (a date pattern). */
    static Map<String, String> parsePairs(String text, String id, String what) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String[] e : entries(text, id, what, "column=pattern", false)) {
            out.put(e[0].trim().toLowerCase(Locale.ROOT), e[1]);
        }
        return out;
    }

    /** Normalised header label to its (first) position. */
    static Map<String, Integer> headerIndex(List<?> labels) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            out.putIfAbsent(normalise(String.valueOf(labels.get(i))), i);
        }
        return out;
    }

    /**
     * The header position of each mapped label, in mapping order. Fails naming every label the header lacks, and any
     * mapped label the header has twice (which of the two is meant cannot be told; labels compare normalised).
     */
    static int[] locate(List<?> labels, Map<String, String> mapping, String id, String what) {
        Map<String, List<Integer>> at = new LinkedHashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            at.computeIfAbsent(normalise(String.valueOf(labels.get(i))), k -> new ArrayList<>()).add(i);
        }
        List<String> missing = new ArrayList<>();
        List<String> repeated = new ArrayList<>();
        int[] out = new int[mapping.size()];
        int n = 0;
        for (String label : mapping.keySet()) {
            List<Integer> found = at.get(label);
            if (found == null) {
                missing.add(label);
                out[n++] = -1;
            } else {
                if (found.size() > 1) {
                    repeated.add("'" + label + "' (columns " + found.stream().map(i -> String.valueOf(i + 1)).toList() + ")");
                }
                out[n++] = found.get(0);
            }
        }
        if (!missing.isEmpty()) {
            // schema drift (a column renamed or removed upstream): refused before anything is applied, with an incident
            throw new io.syncwarden.sync.RunRefusedException("refused_schema", "the " + what + " has no column(s) " + missing
                    + " named in its mapping (renamed or removed upstream?); " + what + " columns: " + at.keySet());
        }
        if (!repeated.isEmpty()) {
            throw new NonRecoverableSyncException("Source " + id + ": the " + what + "'s header repeats the mapped label(s) "
                    + String.join(", ", repeated) + "; rename one of them in the " + what + " so the mapping is unambiguous");
        }
        return out;
    }

    /** A header label as a SQL column name: {@code "Lead ID"} -> {@code lead_id}, {@code "Créé le"} -> {@code cree_le}. */
    static String columnName(String label, int position) {
        String ascii = Normalizer.normalize(normalise(label), Normalizer.Form.NFD).replaceAll("\\p{M}", "");
        String name = ascii.replaceAll("[^a-z0-9]+", "_").replaceAll("^_+|_+$", "");
        if (name.isEmpty()) {
            return "column_" + position;
        }
        if (Character.isDigit(name.charAt(0))) {
            name = "c_" + name;
        }
        return name.length() > 63 ? name.substring(0, 63) : name;
    }
}
