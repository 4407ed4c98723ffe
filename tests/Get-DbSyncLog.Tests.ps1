BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
    $schema = New-TestSchema
    $db = Copy-Chinook 'log.sqlite'
    Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema | Out-Null
    Invoke-Sqlite $db "INSERT INTO Genre (GenreId, Name) VALUES (1000, 'Pester')"
    Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema | Out-Null
}
AfterAll { Remove-TestSchema $schema }

Describe 'Get-DbSyncLog' {
    It 'lists every run, newest first' {
        $runs = Get-DbSyncLog -LiteralPath $db
        $runs | Should -HaveCount 2
        $runs[0].GetType().FullName | Should -Be 'DbSync.Core.Bookkeeping.RunLogEntry'
        $runs[0].StartedAt | Should -BeGreaterThan $runs[1].StartedAt
        $runs[0].Inserted | Should -Be 1
        $runs[1].Inserted | Should -Be 15607
        $runs[0].Path | Should -Be $db
    }

    It 'filters with -Last, -Status and -Since' {
        (Get-DbSyncLog -LiteralPath $db -Last 1).Inserted | Should -Be 1
        Get-DbSyncLog -LiteralPath $db -Status Succeeded | Should -HaveCount 2
        Get-DbSyncLog -LiteralPath $db -Status Failed | Should -BeNullOrEmpty
        Get-DbSyncLog -LiteralPath $db -Since (Get-Date).AddHours(-1) | Should -HaveCount 2
        Get-DbSyncLog -LiteralPath $db -Since (Get-Date).AddHours(1) | Should -BeNullOrEmpty
    }

    It 'takes a [DateTimeOffset] for -Since, as its UTC instant' {
        Get-DbSyncLog -LiteralPath $db -Since ([DateTimeOffset]::UtcNow.AddHours(-1).ToOffset([TimeSpan]::FromHours(5))) | Should -HaveCount 2
        Get-DbSyncLog -LiteralPath $db -Since ([DateTimeOffset]::UtcNow.AddMinutes(30).ToOffset([TimeSpan]::FromHours(-8))) | Should -BeNullOrEmpty
        Get-DbSyncConflict -NodeId ([guid]::NewGuid().ToString()) -ConnectionString $Pg -Since ([DateTimeOffset]::Now.AddDays(-1)) -Last 5 | Should -BeNullOrEmpty
    }

    It 'rejects a status that is not a RunStatus' {
        { Get-DbSyncLog -LiteralPath $db -Status Bogus } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,DbSync.PowerShell.Commands.GetDbSyncLogCommand'
    }

    It 'refuses -Status <Value>, which PowerShell would convert to a status, naming the parameter and its values' -ForEach @(
        @{ Value = 1 }, @{ Value = '1' }, @{ Value = 'Failed,Succeeded' }, @{ Value = 'Failed,Cancelled' }
    ) {
        $caught = $null
        try { Get-DbSyncLog -LiteralPath $db -Status $Value } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'ParameterArgumentTransformationError,DbSync.PowerShell.Commands.GetDbSyncLogCommand'
        $caught.Exception.Message | Should -Match ([regex]::Escape('-Status takes exactly one of Running, Succeeded, PartiallySucceeded, Failed, Cancelled, Abandoned, by name'))
    }

    It 'takes -Status by name in any case, or as a status read from a run' {
        Get-DbSyncLog -LiteralPath $db -Status succeeded | Should -HaveCount 2
        Get-DbSyncLog -LiteralPath $db -Status (Get-DbSyncLog -LiteralPath $db -Last 1).Status | Should -HaveCount 2
    }

    It 'takes a one-item array as its item, as PowerShell binds scalars, and refuses two' {
        Get-DbSyncLog -LiteralPath $db -Status @('Succeeded') | Should -HaveCount 2
        $caught = $null
        try { Get-DbSyncLog -LiteralPath $db -Status @('Succeeded', 'Failed') } catch { $caught = $_ }
        $caught.Exception.Message | Should -Match ([regex]::Escape('not a list (Succeeded, Failed)'))
    }

    It 'says in its help that -Since is a [DateTime]' {
        (Get-Help Get-DbSyncLog -Parameter Since | Out-String) | Should -Match ([regex]::Escape('[DateTime]'))
        (Get-Help Get-DbSyncConflict -Parameter Since | Out-String) | Should -Match ([regex]::Escape('[DateTime]'))
    }

    It 'fits its default view in an 80-column console, with whole headers, and has a useful ToString' {
        $text = Get-DbSyncLog -LiteralPath $db | Out-String -Width 80
        $text -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
        $text | Should -Match 'StartedAt \(UTC\)\s+Status\s+Inserted\s+Updated\s+Deleted\s+ErrorId'
        $text | Should -Match 'Succeeded\s+15607\s+0\s+0'
        $entry = Get-DbSyncLog -LiteralPath $db -Last 1
        "$entry" | Should -Match "^Succeeded: 1 inserted, 0 updated, 0 deleted, run $($entry.RunId)"
    }

    It 'shows Gregorian UTC times in the log and conflict views whatever the culture''s calendar' -ForEach @(
        @{ Culture = 'th-TH' }, @{ Culture = 'ar-SA' }, @{ Culture = 'fa-IR' }
    ) {
        $entry = Get-DbSyncLog -LiteralPath $db -Last 1
        $expected = $entry.StartedAt.ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture)
        $conflictType = Get-ModuleType 'DbSync.Core' 'DbSync.Core.ConflictRecord'
        $conflict = [Activator]::CreateInstance($conflictType)
        $conflictType.GetProperty('At').SetValue($conflict, [datetime]::new(2026, 12, 3, 13, 37, 53, [DateTimeKind]::Utc))
        foreach ($name in 'NodeId', 'Table', 'Target', 'Key', 'Winner') { $conflictType.GetProperty($name).SetValue($conflict, 'x') }
        $saved = [cultureinfo]::CurrentCulture
        try {
            [cultureinfo]::CurrentCulture = $Culture
            $log = $entry | Out-String -Width 120
            $conflicts = $conflict | Out-String -Width 120
        }
        finally { [cultureinfo]::CurrentCulture = $saved }
        $log | Should -Match ([regex]::Escape($expected))
        $conflicts | Should -Match '2026-12-03 13:37:53'
    }

    It 'reads a relative DBSYNC_LOG_PATH in the PowerShell location, as Start-DbSync writes it, for how a run ended' {
        $folder = New-TestFolder 'rel-log'
        $file = Copy-Chinook 'rel-log.sqlite'
        $saved = $env:DBSYNC_LOG_PATH
        Push-Location $folder
        try {
            [Environment]::CurrentDirectory | Should -Not -Be $folder
            $env:DBSYNC_LOG_PATH = 'sync-log.jsonl'
            $run = Start-DbSync -LiteralPath $file -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop
            # The end reached the backup but not the file, as a crash after the backup append leaves it.
            Invoke-Sqlite $file "UPDATE _dbsync_runs SET status = 'Running', finished_at = NULL WHERE run_id = '$($run.RunId)'"
            (Get-DbSyncLog -LiteralPath $file -Last 1).Status.ToString() | Should -Be 'Succeeded'
            (Get-DbSyncLog -LiteralPath $file -Status Succeeded).RunId | Should -Be $run.RunId
            (Get-DbSyncStatus -LiteralPath $file).LastRun.Status.ToString() | Should -Be 'Succeeded'
        }
        finally {
            Pop-Location
            $env:DBSYNC_LOG_PATH = $saved
        }
    }

    It 'pipes its entries on as the file whose log was read, not the path a run recorded before a rename' {
        $old = Copy-Chinook 'renamed-old.sqlite'
        $new = Join-Path $TestDrive 'renamed-new.sqlite'
        Start-DbSync -LiteralPath $old -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop | Out-Null
        Move-Item -LiteralPath $old -Destination $new
        Invoke-Sqlite $new "INSERT INTO Genre (GenreId, Name) VALUES (2000, 'Renamed')"
        # Without another file at the old name, the entry named a missing file.
        Get-DbSyncLog -LiteralPath $new -Last 1 | Get-DbSyncConflict -ConnectionString $Pg -ErrorAction Stop | Should -BeNullOrEmpty
        Copy-Item -LiteralPath $Chinook -Destination $old
        $result = Get-DbSyncLog -LiteralPath $new -Last 1 | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop
        $result.Path | Should -Be $new
        $result.Inserted | Should -Be 1
        (Get-DbSyncStatus -LiteralPath $old).CaptureEnabled | Should -BeFalse
        (Get-DbSyncLog -LiteralPath $new -Last 1).ReadFrom | Should -Be $new
        (Get-DbSyncLog -LiteralPath $new -Last 1 | Get-DbSyncStatus).Path | Should -Be $new
        # Get-DbSyncStatus output still binds by its Path.
        (Get-DbSyncStatus -LiteralPath $new | Get-DbSyncLog -Last 1).Path | Should -Be $new
    }

    It 'never writes to the file' {
        $before = Get-FileHashText $db
        Get-DbSyncLog -LiteralPath $db | Out-Null
        Get-FileHashText $db | Should -Be $before
    }

    It 'leaves out a run log row it cannot read, with a warning naming it, and lists the rest' {
        $copy = Join-Path $TestDrive 'badrow.sqlite'
        Copy-Item -LiteralPath $db -Destination $copy
        Invoke-Sqlite $copy "INSERT INTO _dbsync_runs (run_id, path, started_at, status, tables) VALUES ('11111111-2222-3333-4444-555555555555', 'x', '2026-01-01T00:00:00Z', 'succeeded', '[]')"
        $runs = Get-DbSyncLog -LiteralPath $copy -WarningVariable warned -WarningAction SilentlyContinue
        $runs | Should -HaveCount 2
        $warned | Should -HaveCount 1
        "$($warned[0])" | Should -Match ([regex]::Escape("run_id '11111111-2222-3333-4444-555555555555' in _dbsync_runs cannot be read"))
    }

    It 'throws DbSync.SourceNotFound for a missing file' {
        { Get-DbSyncLog -LiteralPath (Join-Path $TestDrive 'nope.sqlite') } | Should -Throw -ErrorId 'DbSync.SourceNotFound,DbSync.PowerShell.Commands.GetDbSyncLogCommand'
    }
}
