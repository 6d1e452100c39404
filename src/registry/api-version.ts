// The API version every answer declares, the registry's and the gateway's own alike (clients such as
// docker check it on /v2/); one header, never two, even in upstream mode.
export const API_VERSION_HEADER = 'Docker-Distribution-Api-Version';
export const API_VERSION = 'registry/2.0';
