"""Getting the YouTube clips (``audio-dialogues download``): plan the clips from a release, fetch each with
yt-dlp + ffmpeg, record a status per clip, resume.
"""
