package dev.flux.benchmarks;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.BenchmarkException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The check of every benchmark that has a target, in one command: runs each flux benchmark beside its
 * baseline in rounds, the two back to back in one round and in the other order the next (so that a
 * machine slowing down or speeding up during the run falls on both sides), and prints the ratio of
 * each round, their median, the target and whether the median meets it.
 *
 * <pre>
 * java -cp flux-benchmarks/target/benchmarks.jar dev.flux.benchmarks.Targets [--rounds N] [--quick] [name ...]
 * </pre>
 *
 * <p>Names pick targets (all by default): {@code dispatch}, {@code save}, {@code rehydrate-1k},
 * {@code rehydrate-100k}, {@code global-log}, {@code xodus-16-writers}. Each benchmark runs in a fork
 * of its own with the iterations its class declares (the Xodus one, whose class keeps JMH's long
 * defaults, with the README's: three warm-ups of 2 s, five of 3 s), or with one warm-up and two
 * measured iterations of a second under {@code --quick}. Default: three rounds, about ten minutes for
 * all of them. Run it on a quiet machine: the ratios are only as steady as the machine.
 *
 * <p>A benchmark that fails (it throws, or its fork dies) is named with its exception and the command that
 * runs it alone; its target's line says FAILED, the other targets still run, and the exit status is 1. Bad
 * arguments exit with 2.
 */
public final class Targets {

    /**
     * A target: {@code flux} against {@code baseline} (benchmark methods, with JMH parameters), where
     * {@code ratio} is flux's time per unit of work over the baseline's, or for {@code atLeast} targets
     * flux against itself (sixteen writers' throughput over one writer's); {@code millionEventsPerSecond}
     * when flux's score (events per second) must also reach a million; {@code iterations} null for
     * those the benchmark class declares.
     */
    record Target(String name, String what, String flux, String baseline, Map<String, String> params,
                          boolean timePerOp, boolean atLeast, double limit, boolean millionEventsPerSecond,
                          Iterations iterations) {

        /** The ratio of one round from the two scores, as the target reads it. */
        double ratio(double fluxScore, double baselineScore) {
            if (atLeast) {
                return fluxScore / baselineScore;   // throughputs: more is better
            }
            // Time over time: a time per operation directly, a throughput inverted.
            return timePerOp ? fluxScore / baselineScore : baselineScore / fluxScore;
        }

        boolean met(double ratio) {
            return atLeast ? ratio >= limit : ratio <= limit;
        }

        String targetText() {
            return (atLeast ? ">= " : "<= ") + limit + "x" + (millionEventsPerSecond ? " and >= 1 M events/s" : "");
        }
    }

    private static final String CORE = "dev.flux.benchmarks.core.";
    static final List<Target> TARGETS = List.of(
            new Target("dispatch", "aggregate.update(event) vs the handler called directly",
                    CORE + "DispatchBenchmark.update", CORE + "DispatchBenchmark.directHandler", Map.of(),
                    true, false, 2.0, false, null),
            new Target("save", "serialize + append one event, memory store, vs Jackson + a map append",
                    CORE + "SaveBenchmark.serializeAppend", CORE + "SaveBenchmark.jacksonMapAppend", Map.of(),
                    true, false, 1.5, false, null),
            new Target("rehydrate-1k", "load an aggregate of 1,000 events vs Jackson + direct handler calls",
                    CORE + "RehydrateBenchmark.load1k", CORE + "RehydrateBenchmark.baseline1k", Map.of(),
                    false, false, 1.3, true, null),
            new Target("rehydrate-100k", "load an aggregate of 100,000 events vs Jackson + direct handler calls",
                    CORE + "RehydrateBenchmark.load100k", CORE + "RehydrateBenchmark.baseline100k", Map.of(),
                    false, false, 1.3, true, null),
            new Target("global-log", "readAll in pages of 1,000 vs iterating a list",
                    CORE + "GlobalLogReadBenchmark.readAllInPages", CORE + "GlobalLogReadBenchmark.iterateList", Map.of(),
                    false, false, 1.5, false, null),
            new Target("xodus-16-writers", "16 durable Xodus writers vs one, 1 event per save",
                    "dev.flux.benchmarks.xodus.XodusAppendBenchmark.sixteenWriters",
                    "dev.flux.benchmarks.xodus.XodusAppendBenchmark.oneWriter",
                    Map.of("durable", "true", "eventsPerSave", "1"), false, true, 8.0, false,
                    new Iterations(3, 2, 5, 3)));   // the README's: the class has JMH's defaults, 100 s a run
    /** Warm-up and measured iterations, each so many seconds long. */
    record Iterations(int warmups, int warmupSeconds, int measured, int measuredSeconds) {
    }

    /** Under {@code --quick}. */
    private static final Iterations QUICK = new Iterations(1, 1, 2, 1);
    /** Rehydration must also reach this many events per second. */
    private static final double MIN_EVENTS_PER_SECOND = 1_000_000;

    private Targets() {
    }

    private static final String USAGE = "usage: java -cp benchmarks.jar dev.flux.benchmarks.Targets [--rounds N] [--quick]"
            + " [name ...]\n  names (all by default): " + String.join(", ", TARGETS.stream().map(Target::name).toList())
            + "\n  --rounds N  rounds of each pair, in alternating order (default 3); the median ratio is checked"
            + "\n  --quick     one warm-up and two measured iterations of a second: a smoke run, not a measurement";

    /** What the command line asks for: the targets in the order {@link #TARGETS} lists them. */
    record Request(int rounds, boolean quick, List<Target> targets, boolean help) {
    }

    /** A target's verdict from its rounds' scores; {@code rounds} holds each round's ratio, in order. */
    record Verdict(double ratio, boolean met, double fluxScore, double baselineScore, double[] rounds) {
    }

    /**
     * Runs the targets the arguments name and prints the table. Exits with 2 on bad arguments, and with 1,
     * after the table, when a benchmark failed: its target's line then says so instead of a ratio.
     */
    public static void main(String[] args) {
        Request request;
        try {
            request = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage() + "\n" + USAGE);
            System.exit(2);
            return;
        }
        if (request.help()) {
            System.out.println(USAGE);
            return;
        }
        int rounds = request.rounds();
        List<String> lines = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        for (Target target : request.targets()) {
            double[] fluxScores = new double[rounds];
            double[] baselineScores = new double[rounds];
            String unit = "";
            Iterations iterations = request.quick() ? QUICK : target.iterations;
            String running = target.flux;
            try {
                for (int round = 0; round < rounds; round++) {
                    boolean fluxFirst = round % 2 == 0;
                    running = fluxFirst ? target.flux : target.baseline;
                    RunResult first = run(running, target.params, iterations);
                    running = fluxFirst ? target.baseline : target.flux;
                    RunResult second = run(running, target.params, iterations);
                    RunResult flux = fluxFirst ? first : second;
                    RunResult baseline = fluxFirst ? second : first;
                    fluxScores[round] = flux.getPrimaryResult().getScore();
                    baselineScores[round] = baseline.getPrimaryResult().getScore();
                    unit = flux.getPrimaryResult().getScoreUnit();
                    System.out.printf(Locale.ROOT, "# %s, round %d of %d: %.4g vs %.4g %s, ratio %.2fx%n", target.name,
                            round + 1, rounds, fluxScores[round], baselineScores[round], unit,
                            target.ratio(fluxScores[round], baselineScores[round]));
                }
            } catch (RunnerException e) {
                String why = failure(e);
                System.err.println("# " + target.name + ": " + running + " failed: " + why + "\n# run it alone to see"
                        + " its output: " + rerun(running, target.params));
                failed.add(target.name);
                lines.add(String.format(Locale.ROOT, "%-17s %-70s FAILED: %s", target.name, target.what, why));
                continue;
            }
            Verdict verdict = judge(target, fluxScores, baselineScores);
            String extra = target.millionEventsPerSecond
                    ? String.format(Locale.ROOT, "; %.2f M events/s", verdict.fluxScore() / 1e6) : "";
            lines.add(String.format(Locale.ROOT, "%-17s %-70s %10.4g %10.4g %-8s ratio %.2fx (rounds %s), target %s: %s%s",
                    target.name, target.what, verdict.fluxScore(), verdict.baselineScore(), unit, verdict.ratio(),
                    format(verdict.rounds()), target.targetText(), verdict.met() ? "met" : "NOT met", extra));
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-17s %-70s %10s %10s%n", "target", "benchmark", "flux", "baseline");
        lines.forEach(System.out::println);
        System.out.println("(flux and baseline: the median of each side's scores over the rounds, taken apart; the ratio:"
                + " the median of the rounds' ratios, each of one round's pair, which the target is checked against)");
        if (!failed.isEmpty()) {
            System.err.println("\n" + failed.size() + " of " + request.targets().size() + " targets did not run to the"
                    + " end: " + String.join(", ", failed) + " (the reason is above each)");
            System.exit(1);
        }
    }

    /**
     * The request {@code args} make.
     *
     * @throws IllegalArgumentException naming the bad argument: an unknown option or target, a bad {@code --rounds}
     */
    static Request parse(String[] args) {
        int rounds = 3;
        boolean quick = false;
        Set<String> names = new LinkedHashSet<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--help", "-h" -> {
                    return new Request(rounds, quick, List.of(), true);
                }
                case "--rounds" -> rounds = rounds(args, ++i);
                case "--quick" -> quick = true;
                default -> {
                    if (args[i].startsWith("-")) {
                        throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                    }
                    names.add(args[i]);
                }
            }
        }
        boolean all = names.isEmpty();
        List<Target> chosen = new ArrayList<>();
        for (Target target : TARGETS) {
            if (all || names.remove(target.name)) {
                chosen.add(target);
            }
        }
        if (!names.isEmpty()) {
            throw new IllegalArgumentException("unknown targets " + names);
        }
        return new Request(rounds, quick, List.copyOf(chosen), false);
    }

    /** The verdict on the median of the rounds' ratios (and, for rehydration, of flux's rates). */
    static Verdict judge(Target target, double[] fluxScores, double[] baselineScores) {
        double[] ratios = new double[fluxScores.length];
        for (int round = 0; round < ratios.length; round++) {
            ratios[round] = target.ratio(fluxScores[round], baselineScores[round]);
        }
        double ratio = median(ratios);
        double fluxScore = median(fluxScores);
        boolean met = target.met(ratio) && (!target.millionEventsPerSecond || fluxScore >= MIN_EVENTS_PER_SECOND);
        return new Verdict(ratio, met, fluxScore, median(baselineScores), ratios);
    }

    /** What went wrong in a run: the exception the benchmark threw, under JMH's wrappers. */
    static String failure(Throwable e) {
        Throwable cause = e;
        while (cause instanceof RunnerException || cause instanceof BenchmarkException) {
            Throwable next = cause.getCause() != null && cause.getCause() != cause ? cause.getCause()
                    : cause.getSuppressed().length > 0 ? cause.getSuppressed()[0] : null;
            if (next == null) {
                break;
            }
            cause = next;
        }
        return cause.getClass().getName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
    }

    /** The command that runs {@code benchmark} alone, with its output. */
    static String rerun(String benchmark, Map<String, String> params) {
        StringBuilder command = new StringBuilder("java -jar flux-benchmarks/target/benchmarks.jar '^")
                .append(benchmark).append("$'");
        params.forEach((name, value) -> command.append(" -p ").append(name).append('=').append(value));
        return command.append(" -f 1 -wi 0 -i 1").toString();
    }

    private static RunResult run(String benchmark, Map<String, String> params, Iterations iterations)
            throws RunnerException {
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("^" + Pattern.quote(benchmark) + "$")
                .forks(1)
                .shouldFailOnError(true)
                .verbosity(VerboseMode.SILENT);
        params.forEach(options::param);
        if (iterations != null) {
            options.warmupIterations(iterations.warmups).warmupTime(TimeValue.seconds(iterations.warmupSeconds))
                    .measurementIterations(iterations.measured).measurementTime(TimeValue.seconds(iterations.measuredSeconds));
        }
        return new Runner(options.build()).runSingle();
    }

    private static int rounds(String[] args, int index) {
        if (index >= args.length) {
            throw new IllegalArgumentException("--rounds needs a number");
        }
        int rounds;
        try {
            rounds = Integer.parseInt(args[index]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--rounds needs a number, was '" + args[index] + "'");
        }
        if (rounds < 1) {
            throw new IllegalArgumentException("--rounds must be at least 1, was " + rounds);
        }
        return rounds;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String format(double[] ratios) {
        StringBuilder text = new StringBuilder();
        for (double ratio : ratios) {
            text.append(text.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2fx", ratio));
        }
        return text.toString();
    }
}
