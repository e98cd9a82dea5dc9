package dev.cdcmigrator.cli.internal;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * How a long-running command stops: the first SIGTERM or SIGINT (Ctrl-C) starts a clean stop (each stage finishes
 * its batch in flight, commits and closes its clients); a second signal, or the deadline, ends the process at once.
 * A JVM shutdown hook cannot tell a second signal from the first, so the signals are handled here (jdk.unsupported's
 * {@code sun.misc.Signal}, the only way the JDK offers). The clean stop is not a JVM shutdown either: the command
 * closes what it runs in its own order (the demo's databases last), and then exits as usual.
 */
public final class Shutdown {

    private static final Logger LOGGER = LoggerFactory.getLogger(Shutdown.class);

    private final CountDownLatch requested = new CountDownLatch(1);
    private final AtomicInteger signals = new AtomicInteger();
    private final Duration deadline;
    private final Runnable onRequest;

    private Shutdown(Duration deadline, Runnable onRequest) {
        this.deadline = deadline;
        this.onRequest = onRequest;
    }

    /** Installs the handlers for TERM and INT. */
    public static Shutdown onSignals(Duration deadline) {
        return onSignals(deadline, () -> { });
    }

    /** Installs the handlers for TERM and INT; the first signal also runs {@code onRequest} (on the signal's thread). */
    public static Shutdown onSignals(Duration deadline, Runnable onRequest) {
        Shutdown shutdown = new Shutdown(deadline, onRequest);
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), shutdown::signalled);
        }
        return shutdown;
    }

    private void signalled(Signal signal) {
        // A forced stop exits as a shell reports a process the signal ended (130 after Ctrl-C, 143 after SIGTERM),
        // never 137, which tooling reads as the kernel's OOM killer.
        int forced = 128 + signal.getNumber();
        if (signals.incrementAndGet() == 1) {
            LOGGER.info("SIG{} received: stopping cleanly within {} (send it again to stop at once)", signal.getName(), deadline);
            Thread watchdog = new Thread(() -> {
                try {
                    Thread.sleep(deadline.toMillis());
                } catch (InterruptedException e) {
                    return;
                }
                LOGGER.error("clean stop did not finish within {}: stopping at once", deadline);
                // exit, not halt: shutdown hooks still stop what must not outlive the process (the demo's databases).
                Runtime.getRuntime().exit(forced);
            }, "migrator-shutdown-deadline");
            watchdog.setDaemon(true);
            watchdog.start();
            requested.countDown();
            onRequest.run();
        } else {
            LOGGER.warn("SIG{} received again: stopping at once", signal.getName());
            Runtime.getRuntime().exit(forced);
        }
    }

    /** Waits up to {@code timeout} for a stop request; true once one came. */
    public boolean awaitRequest(Duration timeout) throws InterruptedException {
        return requested.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
}
