// The winston root logger. `log.fields` from the config ride on every line; components get
// children tagged with their name.
import winston from 'winston';
import type { LogFormatter, LogLevel } from '../config/config-types.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: LogLevel;
  formatter: LogFormatter;
  fields?: Record<string, unknown>;
  /** Defaults to stderr, so stdout stays free for what a command prints. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const text = winston.format.printf((info) => {
    const { level, message, timestamp, ...rest } = info;
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `${String(timestamp)} ${level} ${String(message)}${extra}`;
  });
  // Logstash's JSON event shape, as Distribution's logrus formatter writes it: @timestamp,
  // @version "1", message and level, with the fields beside them.
  const logstash = winston.format.printf((info) => {
    const { level, message, timestamp, ...rest } = info;
    return JSON.stringify({ '@timestamp': timestamp, '@version': '1', message, level, ...rest });
  });
  const format =
    options.formatter === 'text'
      ? winston.format.combine(winston.format.timestamp(), text)
      : options.formatter === 'logstash'
        ? winston.format.combine(winston.format.timestamp(), logstash)
        : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: options.level,
    defaultMeta: options.fields ?? {},
    format,
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stderr })],
  });
}
