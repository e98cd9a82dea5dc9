package dev.cdcmigrator.cli.internal;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Where the process logs, set once the command line is parsed: standard error for the long-running stages (a
 * container's log), a file for the commands an operator reads (their own output stays free of client-library
 * chatter). Plain text with date and thread, or logback's JSON encoder (one object per line, for log shippers).
 * The levels are logback.xml's (the migrator at INFO, libraries only when something is wrong, WARN);
 * java.util.logging (PgJDBC) and log4j (the embedded broker) reach the same appender through SLF4J.
 */
public final class Logging {

    /** How each event is written. */
    public enum Format { TEXT, JSON }

    /** Date with offset, level, thread, logger: what a reader of a multi-threaded pipeline's log needs. */
    static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{0} - %msg%n";

    private static volatile Path file;

    private Logging() {
    }

    /** The file the process logs to, if it logs to one. */
    public static Optional<Path> file() {
        return Optional.ofNullable(file);
    }

    /** Logs to standard error. */
    public static void toStandardError(Format format) {
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setTarget("System.err");
        use(console, format);
        file = null;
    }

    /** Logs to {@code file}, appending. */
    public static void toFile(Path file, Format format) {
        FileAppender<ILoggingEvent> appender = new FileAppender<>();
        appender.setFile(file.toString());
        appender.setAppend(true);
        use(appender, format);
        Logging.file = file.toAbsolutePath();
    }

    /**
     * Replaces the root logger's appenders with {@code appender}; the levels stay as logback.xml sets them, the one
     * place they are written.
     */
    private static void use(OutputStreamAppender<ILoggingEvent> appender, Format format) {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }
        appender.setContext(context);
        appender.setName(format.name().toLowerCase());
        appender.setEncoder(encoder(context, format));
        appender.start();
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.detachAndStopAllAppenders();
        root.addAppender(appender);
    }

    private static Encoder<ILoggingEvent> encoder(LoggerContext context, Format format) {
        if (format == Format.JSON) {
            JsonEncoder json = new JsonEncoder();
            json.setContext(context);
            json.start();
            return json;
        }
        PatternLayoutEncoder pattern = new PatternLayoutEncoder();
        pattern.setContext(context);
        pattern.setPattern(PATTERN);
        pattern.start();
        return pattern;
    }
}
