package io.syncwarden.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonMetaSchema;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.NonValidationKeyword;
import com.networknt.schema.PathType;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.catalog.EndpointValidationResult;
import org.apache.camel.catalog.impl.DefaultRuntimeCamelCatalog;
import org.quartz.CronExpression;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * Checks a set of YAML routes files the way Camel would load them, without starting anything: the YAML itself, the
 * Camel 4.17 YAML DSL schema, route templates and their parameters, property placeholders, cron expressions, endpoint
 * components and options (Camel's runtime catalog: the components in this jar), and ids used twice. Every problem
 * names its file, line and column. Used by the {@code validate} command and before every live reload.
 */
public final class RoutesValidator {
    /** One problem, {@code file:line:column: problem}; line and column count from 1. */
    public record Problem(String file, int line, int column, String message) {
        @Override
        public String toString() {
            return file + ":" + line + ":" + column + ": " + message;
        }
    }

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{(.+?)}}");
    private static final Set<String> ENDPOINT_KEYS = Set.of("to", "from", "wireTap", "enrich", "pollEnrich", "uri");
    private static volatile JsonSchema schema;

    private final UnaryOperator<String> properties;
    private final DefaultRuntimeCamelCatalog catalog;
    private final Map<String, String> aliases;
    private Map<String, java.util.function.Function<String, String>> parameterChecks = Map.of();

    /**
     * @param properties resolves a text's {@code {{...}}} placeholders, throwing IllegalArgumentException naming a
     *                   missing one
     * @param catalog    the runtime catalog of the components on the class path
     */
    public RoutesValidator(UnaryOperator<String> properties, DefaultRuntimeCamelCatalog catalog) {
        this(properties, catalog, Map.of());
    }

    /** @param aliases components the application registers under names of its own, to the component they are */
    public RoutesValidator(UnaryOperator<String> properties, DefaultRuntimeCamelCatalog catalog, Map<String, String> aliases) {
        this.properties = properties;
        this.catalog = catalog;
        this.aliases = Map.copyOf(aliases);
    }

    /**
     * One top-level item of a routes file: its kind ({@code route}, {@code templatedRoute}, {@code routeTemplate},
     * {@code routeConfiguration}, {@code rest}, ...), its id (a templated route's routeId), the template it is built
     * from, and its content in canonical form (two items with the same content are the same, whatever the comments).
     */
    public record Item(String kind, String id, String templateRef, String content) {
    }

    /**
     * Checks of template parameter values by parameter name (after placeholders are resolved): the problem, or null
     * when the value is fine. A blank value is left to the template's own default handling.
     */
    public RoutesValidator parameterChecks(Map<String, java.util.function.Function<String, String>> checks) {
        this.parameterChecks = Map.copyOf(checks);
        return this;
    }

    /** The items of a routes file (empty when it does not parse: validate it first). */
    public static List<Item> items(String file, String text) {
        Parsed p = parse(file, text);
        List<Item> items = new ArrayList<>();
        for (Node item : items(p)) {
            if (!(item instanceof MappingNode map) || map.getValue().isEmpty()
                    || !(map.getValue().get(0).getKeyNode() instanceof ScalarNode k)) {
                continue;
            }
            String kind = k.getValue();
            Node def = map.getValue().get(0).getValueNode();
            String id = null;
            String ref = null;
            if (def instanceof MappingNode d) {
                ScalarNode idNode = scalar(d, "templatedRoute".equals(kind) ? "routeId" : "id");
                id = idNode == null ? null : idNode.getValue();
                ref = scalar(d, "routeTemplateRef") == null ? null : scalar(d, "routeTemplateRef").getValue();
            }
            items.add(new Item(kind, id, ref, toJson(item, "", new HashMap<>()).toString()));
        }
        return items;
    }

    /** A parsed file: its top-level items, or the problem that kept it from parsing. */
    private record Parsed(String file, Node root, Problem yamlError) {
    }

    private record Template(String id, Node node, Map<String, String> defaults, Set<String> required,
                            Set<String> beans) {
    }

    /**
     * Validates every file (name to content) as one set: templates defined in one file serve the others, and a route
     * id may be used once across them all. The problems sorted by file, line and column; empty when all is well.
     */
    public List<Problem> validate(Map<String, String> files) {
        List<Problem> problems = new ArrayList<>();
        List<Parsed> parsed = new ArrayList<>();
        files.forEach((file, text) -> {
            Parsed p = parse(file, text);
            parsed.add(p);
            if (p.yamlError() != null) {
                problems.add(p.yamlError());
            } else if (p.root() != null) {
                problems.addAll(schemaProblems(file, p.root()));
            }
        });
        Map<String, Template> templates = new HashMap<>();
        Map<String, Problem> ids = new HashMap<>();
        Set<String> configurations = new LinkedHashSet<>();
        for (Parsed p : parsed) {
            for (Node item : items(p)) {
                MappingNode config = kind(item, "routeConfiguration");
                if (config != null && scalar(config, "id") != null) {
                    configurations.add(scalar(config, "id").getValue());
                }
                MappingNode def = kind(item, "routeTemplate");
                if (def != null) {
                    Template t = template(def);
                    if (t.id() != null) {
                        unique(ids, "route template", t.id(), p.file(), def, problems);
                        templates.put(t.id(), t);
                    }
                }
            }
        }
        for (Parsed p : parsed) {
            for (Node item : items(p)) {
                checkItem(p.file(), item, templates, ids, problems);
                checkConfigurationRefs(p.file(), item, configurations, problems);
            }
        }
        problems.sort(Comparator.comparing(Problem::file).thenComparingInt(Problem::line).thenComparingInt(Problem::column));
        return List.copyOf(new LinkedHashSet<>(problems));
    }

    private static List<Node> items(Parsed p) {
        if (p.root() instanceof SequenceNode seq) {
            return seq.getValue();
        }
        return List.of();
    }

    private static Parsed parse(String file, String text) {
        try {
            Optional<Node> root = new Compose(LoadSettings.builder().setLabel(file).build()).composeString(text);
            if (root.isEmpty()) {
                return new Parsed(file, null, null);
            }
            return new Parsed(file, root.get(), null);
        } catch (MarkedYamlEngineException e) {
            Mark mark = e.getProblemMark().orElse(e.getContextMark().orElse(null));
            String what = e.getProblem() == null ? e.getMessage() : e.getProblem();
            String context = e.getContext() == null ? "" : " (" + e.getContext() + ")";
            return new Parsed(file, null, new Problem(file, mark == null ? 1 : mark.getLine() + 1,
                    mark == null ? 1 : mark.getColumn() + 1, "YAML error: " + what + context));
        } catch (YamlEngineException e) {
            return new Parsed(file, null, new Problem(file, 1, 1, "YAML error: " + e.getMessage()));
        }
    }

    // --- the schema ----------------------------------------------------------------------------------------------

    private static JsonSchema schema() {
        JsonSchema s = schema;
        if (s == null) {
            synchronized (RoutesValidator.class) {
                if (schema == null) {
                    schema = loadSchema();
                }
                s = schema;
            }
        }
        return s;
    }

    /**
     * Camel 4.17's own YAML DSL schema (draft-04, in camel-yaml-dsl's jar), with two amendments: {@code deprecated} is
     * an annotation, and a circuit breaker may say {@code inheritErrorHandler} (the runtime takes it, the 4.17 schema
     * lacks it: CAMEL-24697; the templates need it so a breaker's failures reach the shared error handling).
     */
    private static JsonSchema loadSchema() {
        try (InputStream in = RoutesValidator.class.getResourceAsStream("/schema/camelYamlDsl.json")) {
            if (in == null) {
                throw new IllegalStateException("schema/camelYamlDsl.json is missing from the class path (camel-yaml-dsl)");
            }
            JsonNode json = new ObjectMapper().readTree(in);
            ObjectNode breaker = (ObjectNode) json.path("items").path("definitions")
                    .path("org.apache.camel.model.CircuitBreakerDefinition").path("properties");
            breaker.set("inheritErrorHandler", JsonNodeFactory.instance.objectNode().put("type", "boolean"));
            acceptPlaceholders(json);
            JsonMetaSchema meta = JsonMetaSchema.builder(JsonMetaSchema.getV4())
                    .keyword(new NonValidationKeyword("deprecated")).build();
            JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4,
                    b -> b.metaSchema(meta).defaultMetaSchemaIri(meta.getIri()));
            // compiled as instances need it (the whole 800 KB schema compiled ahead takes more heap than the service has)
            return factory.getSchema(json, SchemaValidatorsConfig.builder().pathType(PathType.JSON_POINTER)
                    .preloadJsonSchema(false).cacheRefs(false).build());
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot read the YAML DSL schema: " + e.getMessage(), e);
        }
    }

    /**
     * The runtime takes a placeholder where a number or a boolean is expected ({@code maximumRedeliveries:
     * "{{syncwarden.retry.max-redeliveries}}"}) and converts it once resolved; the schema says number. Every typed
     * value therefore also accepts a string holding a placeholder (the resolved value is checked apart).
     */
    private static void acceptPlaceholders(JsonNode node) {
        if (node instanceof ObjectNode o) {
            JsonNode type = o.get("type");
            if (type != null && type.isTextual() && Set.of("number", "integer", "boolean").contains(type.asText())
                    && !o.has("pattern")) {
                o.set("type", JsonNodeFactory.instance.arrayNode().add(type.asText()).add("string"));
                o.put("pattern", "\\{\\{.+}}"); // a string there must be a placeholder
            }
            o.elements().forEachRemaining(RoutesValidator::acceptPlaceholders);
        } else if (node instanceof ArrayNode a) {
            a.elements().forEachRemaining(RoutesValidator::acceptPlaceholders);
        }
    }

    private List<Problem> schemaProblems(String file, Node root) {
        Map<String, Node> nodes = new HashMap<>();
        JsonNode json = toJson(root, "", nodes);
        Set<ValidationMessage> messages = schema().validate(json);
        // a wrong step inside a oneOf is reported once per alternative: keep the deepest messages per location
        Map<String, List<ValidationMessage>> byLocation = new LinkedHashMap<>();
        for (ValidationMessage m : messages) {
            byLocation.computeIfAbsent(m.getInstanceLocation().toString(), k -> new ArrayList<>()).add(m);
        }
        List<Problem> problems = new ArrayList<>();
        for (Map.Entry<String, List<ValidationMessage>> e : byLocation.entrySet()) {
            String location = e.getKey();
            boolean deeper = byLocation.keySet().stream().anyMatch(other -> other.startsWith(location + "/"));
            if (deeper) {
                continue;
            }
            Node at = nearest(nodes, location);
            List<ValidationMessage> here = e.getValue();
            List<ValidationMessage> unknownKeys = here.stream().filter(m -> "additionalProperties".equals(m.getType())).toList();
            List<ValidationMessage> specific = here.stream().filter(m -> !Set.of("oneOf", "anyOf", "type").contains(m.getType())).toList();
            for (ValidationMessage m : !unknownKeys.isEmpty() ? unknownKeys : !specific.isEmpty() ? specific : here) {
                problems.add(at(file, at, "not valid for the Camel YAML DSL: " + describe(m)));
            }
        }
        return problems;
    }

    private static String describe(ValidationMessage m) {
        String text = m.getMessage();
        // networknt puts the location first ("/0/route/from: ..."): the line and column say it better
        int colon = text.indexOf(": ");
        if (colon > 0 && text.startsWith("/")) {
            text = text.substring(colon + 2);
        }
        return (m.getInstanceLocation().toString().isEmpty() ? "" : m.getInstanceLocation() + ": ") + text;
    }

    private static Node nearest(Map<String, Node> nodes, String pointer) {
        String p = pointer;
        while (true) {
            Node n = nodes.get(p);
            if (n != null || p.isEmpty()) {
                return n;
            }
            int slash = p.lastIndexOf('/');
            p = slash < 0 ? "" : p.substring(0, slash);
        }
    }

    private static JsonNode toJson(Node node, String pointer, Map<String, Node> nodes) {
        nodes.put(pointer, node);
        if (node instanceof MappingNode map) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            for (NodeTuple t : map.getValue()) {
                String key = t.getKeyNode() instanceof ScalarNode s ? s.getValue() : String.valueOf(t.getKeyNode());
                String child = pointer + "/" + key.replace("~", "~0").replace("/", "~1");
                nodes.put(child, t.getKeyNode());
                o.set(key, toJson(t.getValueNode(), child, nodes));
                nodes.put(child, t.getValueNode() instanceof ScalarNode ? t.getKeyNode() : t.getValueNode());
            }
            return o;
        }
        if (node instanceof SequenceNode seq) {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            List<Node> values = seq.getValue();
            for (int i = 0; i < values.size(); i++) {
                a.add(toJson(values.get(i), pointer + "/" + i, nodes));
            }
            return a;
        }
        ScalarNode s = (ScalarNode) node;
        Tag tag = s.getTag();
        String v = s.getValue();
        try {
            if (Tag.INT.equals(tag)) {
                return JsonNodeFactory.instance.numberNode(new java.math.BigInteger(v.replace("_", "")));
            }
            if (Tag.FLOAT.equals(tag)) {
                return JsonNodeFactory.instance.numberNode(new java.math.BigDecimal(v));
            }
        } catch (NumberFormatException e) {
            return JsonNodeFactory.instance.textNode(v);
        }
        if (Tag.BOOL.equals(tag)) {
            return JsonNodeFactory.instance.booleanNode(Boolean.parseBoolean(v.toLowerCase(java.util.Locale.ROOT)));
        }
        if (Tag.NULL.equals(tag)) {
            return JsonNodeFactory.instance.nullNode();
        }
        return JsonNodeFactory.instance.textNode(v);
    }

    // --- what the schema cannot know -------------------------------------------------------------------------------

    private void checkItem(String file, Node item, Map<String, Template> templates, Map<String, Problem> ids,
                           List<Problem> problems) {
        MappingNode route = kind(item, "route");
        if (route != null) {
            ScalarNode id = scalar(route, "id");
            if (id == null) {
                problems.add(at(file, route, "the route has no id (give every route an id: reloads, metrics and "
                        + "Hawtio find it by its id)"));
            } else {
                unique(ids, "route", id.getValue(), file, id, problems);
            }
            checkBody(file, route, Map.of(), Set.of(), problems);
            return;
        }
        MappingNode templated = kind(item, "templatedRoute");
        if (templated != null) {
            checkTemplated(file, templated, templates, ids, problems);
            return;
        }
        MappingNode template = kind(item, "routeTemplate");
        if (template != null) {
            Template t = template(template);
            // the template's own text, judged with its defaults (a parameter without one is checked where it is used)
            checkPlaceholders(file, template, name -> t.defaults().containsKey(name) || t.required().contains(name)
                    || t.beans().contains(name), problems);
            return;
        }
        MappingNode config = kind(item, "routeConfiguration");
        if (config != null) {
            ScalarNode id = scalar(config, "id");
            if (id != null) {
                unique(ids, "route configuration", id.getValue(), file, id, problems);
            }
        }
        if (item instanceof MappingNode other) {
            checkBody(file, other, Map.of(), Set.of(), problems);
        }
    }

    /** A route (or a template's route) naming a route configuration (its error handling) that no file defines. */
    private static void checkConfigurationRefs(String file, Node item, Set<String> configurations, List<Problem> problems) {
        MappingNode route = kind(item, "route");
        MappingNode template = kind(item, "routeTemplate");
        if (route == null && template != null) {
            route = value(template, "route") instanceof MappingNode r ? r : null;
        }
        ScalarNode ref = route == null ? null : scalar(route, "routeConfigurationId");
        if (ref == null) {
            return;
        }
        for (String id : ref.getValue().split(",")) {
            String name = id.trim();
            if (!name.isEmpty() && !name.contains("*") && !configurations.contains(name)) {
                problems.add(at(file, ref, "unknown route configuration '" + name + "' (defined: "
                        + String.join(", ", configurations) + ")"));
            }
        }
    }

    private void checkTemplated(String file, MappingNode templated, Map<String, Template> templates,
                                Map<String, Problem> ids, List<Problem> problems) {
        ScalarNode ref = scalar(templated, "routeTemplateRef");
        ScalarNode routeId = scalar(templated, "routeId");
        if (routeId == null) {
            problems.add(at(file, templated, "the templated route has no routeId"));
        } else {
            unique(ids, "route", routeId.getValue(), file, routeId, problems);
        }
        if (ref == null) {
            return; // the schema says so
        }
        Template t = templates.get(ref.getValue());
        if (t == null) {
            problems.add(at(file, ref, "unknown route template '" + ref.getValue() + "' (known: "
                    + String.join(", ", new java.util.TreeSet<>(templates.keySet())) + ")"));
            return;
        }
        Map<String, String> values = new LinkedHashMap<>(t.defaults());
        Set<String> given = new LinkedHashSet<>();
        Node params = value(templated, "parameters");
        if (params instanceof SequenceNode seq) {
            for (Node p : seq.getValue()) {
                if (!(p instanceof MappingNode pm)) {
                    continue;
                }
                ScalarNode name = scalar(pm, "name");
                ScalarNode value = scalar(pm, "value");
                if (name == null) {
                    continue;
                }
                if (!t.defaults().containsKey(name.getValue()) && !t.required().contains(name.getValue())) {
                    problems.add(at(file, name, "unknown parameter '" + name.getValue() + "' of template '" + t.id()
                            + "' (its parameters: " + String.join(", ", parameterNames(t)) + ")"));
                    continue;
                }
                if (!given.add(name.getValue())) {
                    problems.add(at(file, name, "parameter '" + name.getValue() + "' is given twice"));
                }
                String text = value == null ? "" : value.getValue();
                String resolved = resolve(file, value == null ? name : value, text, problems);
                values.put(name.getValue(), resolved == null ? text : resolved);
                if ("cron".equals(name.getValue()) && resolved != null) {
                    checkCron(file, value, resolved, problems);
                }
                java.util.function.Function<String, String> check = parameterChecks.get(name.getValue());
                if (check != null && resolved != null && !resolved.isBlank()) {
                    String problem = check.apply(resolved.strip());
                    if (problem != null) {
                        problems.add(at(file, value, "parameter '" + name.getValue() + "': " + problem));
                    }
                }
            }
        } else if (params instanceof MappingNode pm) {
            problems.add(at(file, pm, "parameters must be a list of name/value entries"));
        }
        for (String required : t.required()) {
            if (!given.contains(required)) {
                problems.add(at(file, routeId != null ? routeId : templated, "missing required parameter '" + required
                        + "' of template '" + t.id() + "'"));
            }
        }
        // the template's endpoints as this route will have them
        for (String bean : t.beans()) {
            values.putIfAbsent(bean, bean);
        }
        checkBody(file, t.node(), values, Set.of(), problems, templated);
    }

    private static List<String> parameterNames(Template t) {
        List<String> names = new ArrayList<>(t.required());
        names.addAll(t.defaults().keySet());
        return names;
    }

    private Template template(MappingNode def) {
        ScalarNode id = scalar(def, "id");
        Map<String, String> defaults = new LinkedHashMap<>();
        Set<String> required = new LinkedHashSet<>();
        Node params = value(def, "parameters");
        if (params instanceof SequenceNode seq) {
            for (Node p : seq.getValue()) {
                if (p instanceof MappingNode pm && scalar(pm, "name") != null) {
                    ScalarNode dv = scalar(pm, "defaultValue");
                    ScalarNode req = scalar(pm, "required");
                    String name = scalar(pm, "name").getValue();
                    if (dv != null) {
                        defaults.put(name, dv.getValue());
                    } else if (req != null && "false".equalsIgnoreCase(req.getValue())) {
                        defaults.put(name, "");
                    } else {
                        required.add(name);
                    }
                }
            }
        }
        Set<String> beans = new LinkedHashSet<>();
        if (value(def, "beans") instanceof SequenceNode seq) {
            for (Node b : seq.getValue()) {
                if (b instanceof MappingNode bm && scalar(bm, "name") != null) {
                    beans.add(scalar(bm, "name").getValue());
                }
            }
        }
        return new Template(id == null ? null : id.getValue(), def, defaults, required, beans);
    }

    private void checkBody(String file, Node body, Map<String, String> templateValues, Set<String> ignored,
                           List<Problem> problems) {
        checkBody(file, body, templateValues, ignored, problems, null);
    }

    /**
     * The placeholders and endpoints of a definition. With template values, each {@code {{name}}} of the template is
     * replaced first and problems are reported at {@code reportAt} (the templated route), naming the template's line.
     */
    private void checkBody(String file, Node body, Map<String, String> templateValues, Set<String> ignored,
                           List<Problem> problems, Node reportAt) {
        if (reportAt == null) {
            checkPlaceholders(file, body, name -> false, problems);
        }
        for (Endpoint e : endpoints(body)) {
            String uri = substitute(e.uri(), templateValues);
            Node where = reportAt != null ? reportAt : e.node();
            String suffix = reportAt != null ? " (template line " + line(e.node()) + ")" : "";
            String resolved;
            try {
                resolved = properties.apply(uri);
            } catch (IllegalArgumentException ex) {
                continue; // reported with the placeholder itself (the parameter's value, or the template's text)
            }
            checkEndpoint(file, where, resolved, suffix, problems);
        }
    }

    private void checkPlaceholders(String file, Node node, java.util.function.Predicate<String> templateParameter,
                                   List<Problem> problems) {
        if (node instanceof MappingNode map) {
            for (NodeTuple t : map.getValue()) {
                checkPlaceholders(file, t.getValueNode(), templateParameter, problems);
            }
        } else if (node instanceof SequenceNode seq) {
            for (Node n : seq.getValue()) {
                checkPlaceholders(file, n, templateParameter, problems);
            }
        } else if (node instanceof ScalarNode s && s.getValue().contains("{{")) {
            Matcher m = PLACEHOLDER.matcher(s.getValue());
            while (m.find()) {
                String key = m.group(1);
                String name = key.startsWith("?") ? key.substring(1) : key;
                if (templateParameter.test(name)) {
                    continue;
                }
                resolve(file, s, m.group(), problems);
            }
        }
    }

    private String resolve(String file, Node at, String text, List<Problem> problems) {
        try {
            return properties.apply(text);
        } catch (IllegalArgumentException e) {
            problems.add(at(file, at, placeholderMessage(e)));
            return null;
        }
    }

    private static String placeholderMessage(IllegalArgumentException e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        Matcher key = Pattern.compile("key \\[([^]]+)]").matcher(message);
        if (key.find()) {
            return "unresolvable placeholder {{" + key.group(1) + "}}: no such property in application.properties, "
                    + "-D option or environment variable (give it a value, or a default: {{" + key.group(1) + ":default}})";
        }
        return "unresolvable placeholder: " + message;
    }

    private record Endpoint(String uri, Node node) {
    }

    /** Endpoint URIs of a definition: {@code to: uri}, {@code uri: x} with its {@code parameters} as query. */
    private static List<Endpoint> endpoints(Node node) {
        List<Endpoint> found = new ArrayList<>();
        collect(node, null, found);
        return found;
    }

    private static void collect(Node node, String key, List<Endpoint> found) {
        if (node instanceof MappingNode map) {
            ScalarNode uri = scalar(map, "uri");
            if (uri != null && key != null && !"bean".equals(key)) {
                found.add(new Endpoint(withParameters(uri.getValue(), value(map, "parameters")), uri));
            }
            for (NodeTuple t : map.getValue()) {
                String k = t.getKeyNode() instanceof ScalarNode s ? s.getValue() : null;
                if ("uri".equals(k) || "parameters".equals(k) && uri != null) {
                    continue;
                }
                if (k != null && ENDPOINT_KEYS.contains(k) && t.getValueNode() instanceof ScalarNode s && !"toD".equals(k)) {
                    found.add(new Endpoint(s.getValue(), s));
                    continue;
                }
                collect(t.getValueNode(), k, found);
            }
        } else if (node instanceof SequenceNode seq) {
            for (Node n : seq.getValue()) {
                collect(n, key, found);
            }
        }
    }

    private static String withParameters(String uri, Node parameters) {
        if (!(parameters instanceof MappingNode map) || map.getValue().isEmpty()) {
            return uri;
        }
        StringBuilder query = new StringBuilder(uri).append(uri.contains("?") ? '&' : '?');
        boolean first = true;
        for (NodeTuple t : map.getValue()) {
            if (t.getKeyNode() instanceof ScalarNode k && t.getValueNode() instanceof ScalarNode v) {
                if (!first) {
                    query.append('&');
                }
                first = false;
                query.append(k.getValue()).append('=').append(v.getValue().replace(' ', '+'));
            }
        }
        return query.toString();
    }

    private static String substitute(String text, Map<String, String> values) {
        if (values.isEmpty() || !text.contains("{{")) {
            return text;
        }
        Matcher m = PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(v == null ? m.group() : v.replace(' ', '+')));
        }
        m.appendTail(out);
        return out.toString();
    }

    private void checkEndpoint(String file, Node at, String uri, String suffix, List<Problem> problems) {
        if (uri.isBlank()) {
            problems.add(at(file, at, "empty endpoint URI" + suffix));
            return;
        }
        if (!uri.contains(":")) {
            problems.add(at(file, at, "endpoint '" + org.apache.camel.util.URISupport.sanitizeUri(uri)
                    + "' names no component (scheme:...)" + suffix));
            return;
        }
        String scheme = uri.substring(0, uri.indexOf(':'));
        if (aliases.containsKey(scheme)) {
            uri = aliases.get(scheme) + uri.substring(scheme.length());
            scheme = aliases.get(scheme);
        }
        if (catalog.componentJSonSchema(scheme) == null) {
            problems.add(at(file, at, "unknown component '" + scheme + "' (not in this build of Syncwarden)" + suffix));
            return;
        }
        EndpointValidationResult result = catalog.validateEndpointProperties(uri, false);
        if (!result.isSuccess()) {
            problems.add(at(file, at, "endpoint " + scheme + ": " + explain(scheme, result) + suffix));
        }
        if ("quartz".equals(scheme)) {
            Matcher cron = Pattern.compile("[?&]cron=([^&]*)").matcher(uri);
            if (cron.find()) {
                checkCron(file, at, URLDecoder.decode(cron.group(1), StandardCharsets.UTF_8), problems, suffix);
            }
        }
    }

    /** The catalog's findings in one line, each naming the option and what it should be. */
    @SuppressWarnings("unchecked")
    private String explain(String scheme, EndpointValidationResult r) {
        List<String> parts = new ArrayList<>();
        if (r.getSyntaxError() != null) {
            // the parser's message repeats the URI as resolved (an environment value may hold a key): masked
            parts.add("syntax error: " + org.apache.camel.util.URISupport.sanitizeUri(r.getSyntaxError()));
        }
        if (r.getUnknown() != null) {
            for (Object o : r.getUnknown()) {
                String suggestion = closestOption(scheme, (String) o);
                parts.add("unknown option '" + o + "'" + (suggestion == null ? "" : " (did you mean '" + suggestion + "'?)"));
            }
        }
        if (r.getRequired() != null) {
            r.getRequired().forEach(o -> parts.add("missing required option '" + o + "'"));
        }
        describeInvalid(parts, r.getInvalidInteger(), "an integer");
        describeInvalid(parts, r.getInvalidNumber(), "a number");
        describeInvalid(parts, r.getInvalidBoolean(), "true or false");
        describeInvalid(parts, r.getInvalidDuration(), "a duration (1000, 5s, 1m30s)");
        describeInvalid(parts, r.getInvalidReference(), "a bean reference (#name)");
        if (r.getInvalidEnum() != null) {
            ((Map<String, String>) r.getInvalidEnum()).keySet().forEach(k -> parts.add("option '" + k + "' must be one of "
                    + r.getEnumChoices(k)));
        }
        return parts.isEmpty() ? oneLine(org.apache.camel.util.URISupport.sanitizeUri(r.summaryErrorMessage(false, true, false)))
                : String.join("; ", parts);
    }

    @SuppressWarnings("unchecked")
    private static void describeInvalid(List<String> parts, Map<?, ?> invalid, String expected) {
        if (invalid != null) {
            // the value is not repeated: an option may hold a credential
            ((Map<String, String>) invalid).keySet().forEach(k -> parts.add("option '" + k + "' must be " + expected));
        }
    }

    private String closestOption(String scheme, String unknown) {
        org.apache.camel.tooling.model.ComponentModel model = catalog.componentModel(scheme);
        return model == null ? null : Suggest.closest(unknown,
                model.getEndpointOptions().stream().map(org.apache.camel.tooling.model.BaseOptionModel::getName).toList(), 2);
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*\\R\\s*", "; ").replaceAll("\\s{2,}", " ").replaceAll("^;\\s*|;\\s*$", "").trim();
    }

    private void checkCron(String file, Node at, String cron, List<Problem> problems) {
        checkCron(file, at, cron, problems, "");
    }

    private static void checkCron(String file, Node at, String cron, List<Problem> problems, String suffix) {
        try {
            CronExpression.validateExpression(cron);
        } catch (java.text.ParseException e) {
            problems.add(at(file, at, "invalid cron '" + cron + "': " + e.getMessage()
                    + " (Quartz cron: seconds minutes hours day-of-month month day-of-week [year], e.g. '0 */5 * * * ?')"
                    + suffix));
        }
    }

    private static void unique(Map<String, Problem> ids, String what, String id, String file, Node at,
                               List<Problem> problems) {
        String key = (what.startsWith("route template") ? "t:" : what.startsWith("route configuration") ? "c:" : "r:") + id;
        Problem here = at(file, at, what + " id '" + id + "'");
        Problem first = ids.putIfAbsent(key, here);
        if (first != null) {
            problems.add(at(file, at, "duplicate " + what + " id '" + id + "' (also at " + first.file() + ":"
                    + first.line() + ")"));
        }
    }

    // --- YAML helpers --------------------------------------------------------------------------------------------

    private static MappingNode kind(Node item, String kind) {
        if (item instanceof MappingNode map && value(map, kind) instanceof MappingNode def) {
            return def;
        }
        return null;
    }

    private static Node value(MappingNode map, String key) {
        for (NodeTuple t : map.getValue()) {
            if (t.getKeyNode() instanceof ScalarNode k && key.equals(k.getValue())) {
                return t.getValueNode();
            }
        }
        return null;
    }

    private static ScalarNode scalar(MappingNode map, String key) {
        return value(map, key) instanceof ScalarNode s ? s : null;
    }

    private static int line(Node node) {
        return node.getStartMark().map(m -> m.getLine() + 1).orElse(1);
    }

    private static Problem at(String file, Node node, String message) {
        if (node == null) {
            return new Problem(file, 1, 1, message);
        }
        Optional<Mark> mark = node.getStartMark();
        return new Problem(file, mark.map(m -> m.getLine() + 1).orElse(1), mark.map(m -> m.getColumn() + 1).orElse(1),
                message);
    }
}
