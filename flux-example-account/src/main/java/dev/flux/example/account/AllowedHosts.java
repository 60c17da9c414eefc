package dev.flux.example.account;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The names a server answers to in a request's {@code Host} header, and the filter that refuses every
 * other name with 421 {@code misdirected_request}: the defence against DNS rebinding. A web page on an
 * attacker's domain whose DNS name is then rebound to 127.0.0.1 makes the browser send its requests to
 * this server as requests to the page's own site, whose answers the page may read; the one trace of the
 * trick is the attacker's name in the Host header.
 *
 * <p>A server answers to the host it was bound to, as given and as its address, and, when that address
 * is a loopback or wildcard one, to {@code localhost}, {@code 127.0.0.1} and {@code [::1]}; and to the
 * names it is given ({@code --allowed-hosts}). Each with any port or none: a rebinding changes the name,
 * never the port, while a tunnel or proxy ({@code ssh -L 9000:127.0.0.1:8080}) changes the port. Names
 * compare without regard to case; an IPv6 address is written in brackets, as a browser writes it.
 *
 * <p>Every browser sends a Host header, so a request without one is not a web page's: one over HTTP/1.0,
 * which does not require it, is served. An HTTP/1.1 request without one, or any with more than one, gets
 * 400, as HTTP/1.1 requires.
 */
final class AllowedHosts extends Filter {
    static final String OPTION = "--allowed-hosts";
    private static final List<String> LOOPBACK_NAMES = List.of("localhost", "127.0.0.1", "[::1]");
    private static final Pattern NAME = Pattern.compile(
            "[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*|\\[[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*]");
    private static final Pattern HOST = Pattern.compile("([^:\\[\\]]+|\\[[^\\[\\]]*])(:[0-9]{0,5})?");

    private final Set<String> names;

    private AllowedHosts(Set<String> names) {
        this.names = names;
    }

    /**
     * The names of a server bound to {@code address} (resolved from {@code host}), and {@code extra}.
     *
     * @throws IllegalArgumentException when an extra name is not a host name or IP address without a port
     */
    static AllowedHosts of(InetSocketAddress address, String host, List<String> extra) {
        Set<String> names = new LinkedHashSet<>();
        String given = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        names.add(given.toLowerCase(Locale.ROOT));
        InetAddress bound = address.getAddress();
        if (bound != null) {
            names.add(literal(bound));
            if (bound.isLoopbackAddress() || bound.isAnyLocalAddress()) {
                names.addAll(LOOPBACK_NAMES);
            }
        }
        for (String name : extra) {
            names.add(name(name));
        }
        return new AllowedHosts(Set.copyOf(names));
    }

    /**
     * The names in an {@code --allowed-hosts} value: host names or IP addresses separated by commas.
     *
     * @throws IllegalArgumentException naming the option and the entry that is not one
     */
    static List<String> parse(String value) {
        List<String> names = new ArrayList<>();
        for (String entry : value.split(",", -1)) {
            if (entry.isBlank()) {
                throw new IllegalArgumentException(OPTION + " takes host names or IP addresses separated by commas,"
                        + " e.g. accounts.internal,192.168.1.5; '" + value + "' has an empty one");
            }
            try {
                names.add(name(entry.strip()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(OPTION + ": " + e.getMessage());
            }
        }
        return names;
    }

    /** A name an operator allows, in lower case; refused unless it is a host name or IP address without a port. */
    private static String name(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException((name == null ? "null" : "'" + name + "'")
                    + " is not a host name or IP address without a port (an IPv6 address goes in brackets),"
                    + " e.g. accounts.internal, 192.168.1.5 or [fd00::5]");
        }
        return name.toLowerCase(Locale.ROOT);
    }

    private static String literal(InetAddress address) {
        String literal = address.getHostAddress();
        if (address instanceof Inet6Address) {
            int zone = literal.indexOf('%');
            return "[" + (zone >= 0 ? literal.substring(0, zone) : literal) + "]";
        }
        return literal;
    }

    /** Whether a request whose Host header says {@code host} is served. */
    boolean answersTo(String host) {
        Matcher matcher = HOST.matcher(host.strip());
        return matcher.matches() && names.contains(matcher.group(1).toLowerCase(Locale.ROOT));
    }

    @Override
    public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
        List<String> hosts = exchange.getRequestHeaders().get("Host");
        Http.Problem refused = null;
        if (hosts == null) {
            if (!exchange.getProtocol().equalsIgnoreCase("HTTP/1.0")) {
                refused = new Http.Problem(400, "bad_request", "an " + exchange.getProtocol() + " request must have a Host header");
            }
        } else if (hosts.size() > 1) {
            refused = new Http.Problem(400, "bad_request", "a request must have one Host header, this one has " + hosts.size());
        } else if (!answersTo(hosts.get(0))) {
            Matcher host = HOST.matcher(hosts.get(0).strip());
            String name = host.matches() && NAME.matcher(host.group(1)).matches() ? " " + host.group(1) : "";
            refused = new Http.Problem(421, "misdirected_request", "this server does not answer to Host '" + hosts.get(0)
                    + "' (a guard against DNS rebinding); to serve that name, start it with "
                    + OPTION + name);
        }
        if (refused != null) {
            try {
                Http.send(exchange, refused);
            } finally {
                exchange.close();
            }
            return;
        }
        chain.doFilter(exchange);
    }

    @Override
    public String description() {
        return "serves requests whose Host header names one of " + names;
    }
}
