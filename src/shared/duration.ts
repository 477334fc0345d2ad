/** A Temporal duration: milliseconds, or a string such as '14 days', '90s'. */
export type DurationSpec = string | number;
