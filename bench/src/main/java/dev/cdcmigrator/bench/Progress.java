package dev.cdcmigrator.bench;

/** Progress lines on stderr (stdout carries only the report). */
final class Progress {

    private static final long STARTED = System.nanoTime();

    private Progress() {
    }

    static void say(String format, Object... args) {
        System.err.printf("[%6.1fs] %s%n", (System.nanoTime() - STARTED) / 1e9, String.format(format, args));
        System.err.flush();
    }
}
