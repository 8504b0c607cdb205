//! `mdz-callback`: the one dynamic endpoint of MiraDigitalZen Publisher.
