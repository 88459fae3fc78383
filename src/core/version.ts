/** The version of rediacc (the package's). */
export const VERSION = '0.1.0';
