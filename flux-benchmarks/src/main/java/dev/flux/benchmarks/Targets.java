package dev.flux.benchmarks;

import org.openjdk.jmh.results.RunResult;
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
 */
public final class Targets {

    /**
     * A target: {@code flux} against {@code baseline} (benchmark methods, with JMH parameters), where
     * {@code ratio} is flux's time per unit of work over the baseline's, or for {@code atLeast} targets
     * flux against itself (sixteen writers' throughput over one writer's); {@code millionEventsPerSecond}
     * when flux's score (events per second) must also reach a million; {@code iterations} null for
     * those the benchmark class declares.
     */
    private record Target(String name, String what, String flux, String baseline, Map<String, String> params,
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
            return (atLeast ? ">= " : "<= ") + limit + "x";
        }
    }

    private static final String CORE = "dev.flux.benchmarks.core.";
    private static final List<Target> TARGETS = List.of(
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
    private record Iterations(int warmups, int warmupSeconds, int measured, int measuredSeconds) {
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

    public static void main(String[] args) throws RunnerException {
        int rounds = 3;
        boolean quick = false;
        Set<String> names = new LinkedHashSet<>();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--help", "-h" -> {
                        System.out.println(USAGE);
                        return;
                    }
                    case "--rounds" -> rounds = rounds(args, ++i);
                    case "--quick" -> quick = true;
                    default -> names.add(args[i]);
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage() + "\n" + USAGE);
            System.exit(2);
        }
        boolean all = names.isEmpty();
        List<Target> chosen = new ArrayList<>();
        for (Target target : TARGETS) {
            if (all || names.remove(target.name)) {
                chosen.add(target);
            }
        }
        if (!names.isEmpty()) {
            System.err.println("unknown targets " + names + "\n" + USAGE);
            System.exit(2);
        }

        List<String> lines = new ArrayList<>();
        for (Target target : chosen) {
            double[] ratios = new double[rounds];
            double[] fluxScores = new double[rounds];
            double[] baselineScores = new double[rounds];
            String unit = "";
            for (int round = 0; round < rounds; round++) {
                boolean fluxFirst = round % 2 == 0;
                Iterations iterations = quick ? QUICK : target.iterations;
                RunResult first = run(fluxFirst ? target.flux : target.baseline, target.params, iterations);
                RunResult second = run(fluxFirst ? target.baseline : target.flux, target.params, iterations);
                RunResult flux = fluxFirst ? first : second;
                RunResult baseline = fluxFirst ? second : first;
                fluxScores[round] = flux.getPrimaryResult().getScore();
                baselineScores[round] = baseline.getPrimaryResult().getScore();
                unit = flux.getPrimaryResult().getScoreUnit();
                ratios[round] = target.ratio(fluxScores[round], baselineScores[round]);
                System.out.printf(Locale.ROOT, "# %s, round %d of %d: %.4g vs %.4g %s, ratio %.2fx%n", target.name,
                        round + 1, rounds, fluxScores[round], baselineScores[round], unit, ratios[round]);
            }
            double ratio = median(ratios);
            boolean met = target.met(ratio);
            String extra = "";
            if (target.millionEventsPerSecond) {
                double eventsPerSecond = median(fluxScores);
                met &= eventsPerSecond >= MIN_EVENTS_PER_SECOND;
                extra = String.format(Locale.ROOT, "; %.2f M events/s (target >= 1 M)", eventsPerSecond / 1e6);
            }
            lines.add(String.format(Locale.ROOT, "%-17s %-70s %10.4g %10.4g %-8s ratio %.2fx (rounds %s), target %s: %s%s",
                    target.name, target.what, median(fluxScores), median(baselineScores), unit, ratio,
                    format(ratios), target.targetText(), met ? "met" : "NOT met", extra));
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-17s %-70s %10s %10s%n", "target", "benchmark", "flux", "baseline");
        lines.forEach(System.out::println);
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
