package dev.flux.feed;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The names a server answers to in a request's {@code Host} header, and the check that refuses every
 * other name with 421 {@code misdirected_request}: the defence against DNS rebinding, as Vite's and
 * webpack-dev-server's {@code allowedHosts}. A web page on an attacker's domain whose DNS name is then
 * pointed at 127.0.0.1 makes the browser send its requests to a server on this machine as requests to
 * the page's own site, whose answers the page may read; the one trace of the trick is the attacker's
 * name in the Host header. A {@link FeedServer} runs this check ({@link FeedServer.Builder#allowedHosts});
 * put it on a context of a server of your own with {@link #guard}:
 *
 * <pre>{@code
 * HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 8080), 0);
 * AllowedHosts hosts = AllowedHosts.boundTo(server.getAddress()).and("accounts.internal");
 * hosts.guard(server.createContext("/events", FeedServer.builder(store).handler()));
 * }</pre>
 *
 * <p>A name is served with any port or none: a rebinding changes the name, never the port, while a
 * tunnel or proxy ({@code ssh -L 9000:127.0.0.1:8080}) changes the port. Names compare without regard to
 * case, and IP addresses as addresses ({@code [::1]} is {@code [0:0:0:0:0:0:0:1]}); an IPv6 address is
 * written in brackets, as a browser writes it. A name is served only whole: {@code localhost} does not
 * let {@code localhost.attacker.example} or {@code attacker-localhost} through, nor {@code 127.0.0.1}
 * {@code 127.0.0.1.nip.io}.
 *
 * <p>Every browser sends a Host header, so a request without one is not a web page's: one over
 * HTTP/1.0, which does not require it, is served. An HTTP/1.1 request without one, or any with more than
 * one, gets 400, as HTTP/1.1 requires. Refusals have the feed's JSON error body, {@code {"error": ...,
 * "message": ...}}, the message naming the Host and how to allow it ({@link #advising}).
 *
 * <p>Immutable and thread-safe: {@link #and} and {@link #advising} return new ones.
 */
public final class AllowedHosts {
    private static final List<String> LOOPBACK_NAMES = List.of("localhost", "127.0.0.1", "[::1]");
    /**
     * A host name (underscores too, as in Compose service names) or IPv4 address: labels that start and end
     * with a letter, digit or underscore, one dot between two; or an IPv6 address in brackets. No group is
     * repeated: Java's regex recurses once per repetition of a group, so a Host header of a few thousand
     * labels overflowed the stack of the request's thread, which died without an answer.
     */
    private static final Pattern NAME = Pattern.compile("(?!.*(\\.[.-]|-\\.))[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?"
            + "|\\[[0-9A-Fa-f:][0-9A-Fa-f.:]*]");
    /** A Host header: the host, and maybe a port. */
    private static final Pattern HOST = Pattern.compile("([^:\\[\\]]+|\\[[^\\[\\]]*])(:[0-9]{0,5})?");
    private static final String DEFAULT_ADVICE = "allow it with AllowedHosts.and(\"%s\")";

    /** The names served, in their canonical form ({@link #canonical}). */
    private final Set<String> names;
    private final String advice;
    private final Filter filter = new Check();

    private AllowedHosts(Set<String> names, String advice) {
        this.names = names;
        this.advice = advice;
    }

    /** {@code localhost}, {@code 127.0.0.1} and {@code [::1]}: the names a browser reaches this machine by. */
    public static AllowedHosts loopback() {
        return new AllowedHosts(Set.of(), DEFAULT_ADVICE).and(LOOPBACK_NAMES.toArray(String[]::new));
    }

    /**
     * The names of a server bound to {@code address}: the host it was given as, when that is a host name
     * or IP address ({@code localhost}, say), and its IP address; and the {@link #loopback} names when
     * that address is a loopback or wildcard one ({@code 0.0.0.0}), which this machine reaches it by.
     * A server bound to any other address is not answered under {@code localhost}: add the names its
     * clients use with {@link #and}.
     *
     * @throws IllegalArgumentException when the address is null
     */
    public static AllowedHosts boundTo(InetSocketAddress address) {
        if (address == null) {
            throw new IllegalArgumentException("address must not be null");
        }
        Set<String> names = new LinkedHashSet<>();
        String given = address.getHostString();
        if (given.indexOf(':') >= 0 && !given.startsWith("[")) {
            given = "[" + given + "]";
        }
        if (NAME.matcher(given).matches()) {
            names.add(canonical(given));
        }
        InetAddress bound = address.getAddress();
        if (bound != null) {
            names.add(literal(bound));
            if (bound.isLoopbackAddress() || bound.isAnyLocalAddress()) {
                names.addAll(canonical(LOOPBACK_NAMES));
            }
        }
        return new AllowedHosts(Collections.unmodifiableSet(names), DEFAULT_ADVICE);
    }

    /**
     * These names and {@code names}: host names or IP addresses (an IPv6 address in brackets), each
     * without a port, e.g. {@code accounts.internal}, {@code 192.168.1.5} or {@code [fd00::5]}.
     *
     * @throws IllegalArgumentException when {@code names} is null, or one is not such a name, naming it
     */
    public AllowedHosts and(String... names) {
        Set<String> more = new LinkedHashSet<>(this.names);
        more.addAll(checked(names));
        return new AllowedHosts(Collections.unmodifiableSet(more), advice);
    }

    /**
     * These names, with {@code advice} in the 421 answer as what to do to serve a refused name, {@code %s}
     * standing for that name: {@code "start it with --allowed-hosts %s"} gives "this server does not answer
     * to Host 'attacker.example:8080' (a guard against DNS rebinding); to serve that name, start it with
     * --allowed-hosts attacker.example". Default: {@code allow it with AllowedHosts.and("%s")}.
     *
     * @throws IllegalArgumentException when the advice is null or blank
     */
    public AllowedHosts advising(String advice) {
        if (advice == null || advice.isBlank()) {
            throw new IllegalArgumentException("advice must not be null or blank, was "
                    + (advice == null ? null : "'" + advice + "'"));
        }
        return new AllowedHosts(names, advice);
    }

    /**
     * Whether a request whose Host header says {@code host} is served: when it names one of these names,
     * with any port or none. A blank one, or one that names no host, is not.
     *
     * @throws IllegalArgumentException when the host is null (a request without a Host header is no
     *                                  web page's: see the class comment)
     */
    public boolean allows(String host) {
        if (host == null) {
            throw new IllegalArgumentException("host must not be null");
        }
        String name = hostOf(host);
        return name != null && names.contains(canonical(name));
    }

    /**
     * Serves the requests of {@code context} only when their Host header names one of these names; the
     * others are answered, 421 or 400 as the class comment says, before any other filter of the context
     * runs (before a {@link RequestTimeout} reads the body, say) and before its handler.
     *
     * @return the context
     * @throws IllegalArgumentException when the context is null
     */
    public HttpContext guard(HttpContext context) {
        if (context == null) {
            throw new IllegalArgumentException("context must not be null");
        }
        context.getFilters().add(0, filter);
        return context;
    }

    /** The names served, e.g. {@code AllowedHosts[localhost, 127.0.0.1, [0:0:0:0:0:0:0:1]]}. */
    @Override
    public String toString() {
        return "AllowedHosts" + names;
    }

    /**
     * The host of a Host header or URI authority (its name or bracketed IPv6 address, without the port),
     * or null when it names none.
     */
    static String hostOf(String header) {
        Matcher matcher = HOST.matcher(header.strip());
        return matcher.matches() && NAME.matcher(matcher.group(1)).matches() ? matcher.group(1) : null;
    }

    private static List<String> checked(String[] names) {
        if (names == null) {
            throw new IllegalArgumentException("names must not be null");
        }
        for (int i = 0; i < names.length; i++) {
            if (names[i] == null) {
                throw new IllegalArgumentException("names[" + i + "] must not be null");
            }
            if (!NAME.matcher(names[i]).matches() || names[i].startsWith("[") && canonical(names[i]) == null) {
                throw new IllegalArgumentException("allowed host '" + names[i] + "' is not a host name or IP address"
                        + " without a port (an IPv6 address goes in brackets), e.g. accounts.internal, 192.168.1.5 or [fd00::5]");
            }
        }
        return canonical(List.of(names));
    }

    private static List<String> canonical(List<String> names) {
        return names.stream().map(AllowedHosts::canonical).toList();
    }

    /**
     * A name in lower case; an IPv6 address as Java writes it, in brackets (or an IPv4 one, for an
     * IPv4-mapped address); null for brackets that hold no IPv6 address.
     */
    private static String canonical(String name) {
        if (!name.startsWith("[")) {
            return name.toLowerCase(Locale.ROOT);
        }
        String address = name.substring(1, name.length() - 1);
        // Only literals reach here: NAME lets in hex digits, dots and colons, starting with a digit or a
        // colon, and InetAddress parses such a string as an address, never asking DNS.
        if (address.indexOf(':') < 0 || !NAME.matcher(name).matches()) {
            return null;
        }
        try {
            return literal(InetAddress.getByName(address));
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /** An IP address as a Host header or URI writes it: an IPv6 one in brackets, without its zone. */
    static String literal(InetAddress address) {
        String literal = address.getHostAddress();
        if (address instanceof Inet6Address) {
            int zone = literal.indexOf('%');
            return "[" + (zone >= 0 ? literal.substring(0, zone) : literal) + "]";
        }
        return literal;
    }

    /** The message of a 421: the Host as sent, and what to do to serve its name. */
    private String refusal(String header) {
        String name = hostOf(header);
        return "this server does not answer to Host '" + header + "' (a guard against DNS rebinding)"
                + (name == null ? ": it names no host name or IP address"
                : "; to serve that name, " + advice.replace("%s", name.toLowerCase(Locale.ROOT)));
    }

    /** The filter {@link #guard} puts on a context. */
    private final class Check extends Filter {
        @Override
        public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
            List<String> hosts = exchange.getRequestHeaders().get("Host");
            if (hosts == null) {
                if (!exchange.getProtocol().equalsIgnoreCase("HTTP/1.0")) {
                    FeedHandler.refuse(exchange, 400, "bad_request", "an " + exchange.getProtocol()
                            + " request must have a Host header");
                    return;
                }
            } else if (hosts.size() > 1) {
                FeedHandler.refuse(exchange, 400, "bad_request", "a request must have one Host header, this one has "
                        + hosts.size());
                return;
            } else if (!allows(hosts.get(0))) {
                FeedHandler.refuse(exchange, 421, "misdirected_request", refusal(hosts.get(0)));
                return;
            }
            chain.doFilter(exchange);
        }

        @Override
        public String description() {
            return "serves requests whose Host header names one of " + names;
        }
    }
}
