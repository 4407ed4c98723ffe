BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Start-DbSync' {
    BeforeEach {
        $schema = New-TestSchema
        $db = Copy-Chinook ("chinook-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
    }
    AfterEach {
        Remove-TestSchema $schema
    }

    It 'syncs a file and emits the run result with true counts' {
        $result = Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema
        $result | Should -HaveCount 1
        $result.GetType().FullName | Should -Be 'DbSync.Core.SyncResult'
        $result.Status.ToString() | Should -Be 'Succeeded'
        $result.Inserted | Should -Be 15607
        $result.Tables | Should -HaveCount 11
        "$($result.Log)" | Should -Be 'backup yes, file yes, PostgreSQL yes'
        ($result | Format-List Log | Out-String) | Should -Match 'Log\s*: backup yes, file yes, PostgreSQL yes'
        Invoke-Pg "SELECT count(*) FROM `"$schema`".track" -Scalar | Should -Be 3503
    }

    It 'pushes inserts, updates and deletes made after the first run' {
        Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema | Out-Null
        Invoke-Sqlite $db "INSERT INTO Genre (GenreId, Name) VALUES (1000, 'Pester'); UPDATE Artist SET Name = 'Changed' WHERE ArtistId = 1; DELETE FROM PlaylistTrack WHERE PlaylistId = 1 AND TrackId = 3402"
        $result = Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema
        $result.Status.ToString() | Should -Be 'Succeeded'
        $result.Inserted | Should -Be 1
        $result.Updated | Should -Be 1
        $result.Deleted | Should -Be 1
        Invoke-Pg "SELECT name FROM `"$schema`".artist WHERE artistid = 1" -Scalar | Should -Be 'Changed'
    }

    It 'binds files piped from Get-ChildItem literally, even with brackets in the name' {
        $odd = Copy-Chinook 'shop[1].sqlite'
        $result = Get-ChildItem -LiteralPath $odd | Start-DbSync -ConnectionString $Pg -Schema $schema
        $result.Status.ToString() | Should -Be 'Succeeded'
        $result.Path | Should -Be $odd
    }

    It 'binds objects with a FullName property (Select-Object FullName, Import-Csv) as their file' {
        $odd = Copy-Chinook 'full[1].sqlite'
        $result = Get-ChildItem -LiteralPath $odd | Select-Object FullName | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop
        $result.Path | Should -Be $odd
        ([pscustomobject]@{ FullName = $odd } | Get-DbSyncStatus -ErrorAction Stop).Path | Should -Be $odd
    }

    It 'binds DbSync''s own results for shop[1].sqlite to that file, not to shop1.sqlite that the pattern matches' {
        $folder = New-TestFolder 'br'
        $odd = Join-Path $folder 'shop[1].sqlite'
        $plain = Join-Path $folder 'shop1.sqlite'
        Copy-Item -LiteralPath $db -Destination $odd
        Copy-Item -LiteralPath $db -Destination $plain
        Enable-DbSync -LiteralPath $odd | Out-Null

        (Get-DbSyncStatus -LiteralPath $odd | Get-DbSyncStatus).Path | Should -Be $odd
        $result = Get-DbSyncStatus -LiteralPath $odd | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre
        $result.Path | Should -Be $odd
        (Get-DbSyncStatus -LiteralPath $plain).CaptureEnabled | Should -BeFalse
    }

    It 'resolves -Path wildcards through the provider' {
        $folder = New-TestFolder 'wild'
        Copy-Item -LiteralPath $db -Destination (Join-Path $folder 'a.sqlite')
        $results = Start-DbSync -Path (Join-Path $folder '*.sqlite') -ConnectionString $Pg -Schema $schema -Table Genre
        $results | Should -HaveCount 1
        $results.Tables.Name | Should -Be 'Genre'
        Invoke-Pg "SELECT count(*) FROM `"$schema`".genre" -Scalar | Should -Be 25
    }

    It 'takes the password from -Credential and never shows it' {
        $password = Get-PgPassword
        $user = ((Get-PgWithoutPassword) -split ';' | Where-Object { $_ -match '^\s*(Username|User Id|User)\s*=' }) -replace '^[^=]*=\s*', ''
        $credential = [pscredential]::new($user, (ConvertTo-SecureString $password -AsPlainText -Force))
        $all = Start-DbSync -Path $db -ConnectionString (Get-PgWithoutPassword) -Credential $credential -Schema $schema -Verbose 4>&1
        # Types in the module's load context are not resolvable as [type] literals in PowerShell: compare names.
        ($all | Where-Object { $_.GetType().FullName -eq 'DbSync.Core.SyncResult' }).Status.ToString() | Should -Be 'Succeeded'
        ($all | Out-String) + ($all | ConvertTo-Json -Depth 4 -WarningAction SilentlyContinue) | Should -Not -Match ([regex]::Escape($password))
        Get-Content -LiteralPath "$db-dbsync-log.jsonl" -Raw | Should -Not -Match ([regex]::Escape($password))
    }

    It 'fails with DbSync.AuthenticationFailed for a wrong password, without showing it' {
        $credential = [pscredential]::new('dbsync', (ConvertTo-SecureString 'Wrong-Secret-4711' -AsPlainText -Force))
        $caught = $null
        try { Start-DbSync -Path $db -ConnectionString (Get-PgWithoutPassword) -Credential $credential -Schema $schema -ErrorAction Stop }
        catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'DbSync.AuthenticationFailed,*'
        $caught.CategoryInfo.Category | Should -Be 'PermissionDenied'
        ($caught | Out-String) + $caught.Exception.ToString() | Should -Not -Match 'Wrong-Secret-4711'
    }

    It 'keeps the password of a connection string given as -Schema or as the path out of its What-if and verbose text' {
        $run = Invoke-ChildPwsh "try { Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema 'Host=h;Password=Sekr1tPW' -WhatIf -Verbose } catch { 'caught: ' + `$_.FullyQualifiedErrorId }"
        $run.Output | Should -Match "What if: Sync '.*' to PostgreSQL schema 'Host=h;Password=\*\*\*'\."
        $run.Output | Should -Not -Match 'Sekr1tPW'
        # Arguments swapped: the connection string is taken as the path.
        $shown = Get-StreamText { Start-DbSync $Pg $db -Verbose -ErrorAction SilentlyContinue }
        $shown | Should -Match "Sync '.*Password=\*\*\*;.*' to PostgreSQL schema 'public'\."
        $shown | Should -Match "Syncing '.*Password=\*\*\*;.*' to schema 'public'\."
        $shown | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'hands a job or Import-Clixml a Status that still compares equal to its name' {
        $job = Start-Job {
            Import-Module $using:ModuleManifest
            Start-DbSync -LiteralPath $using:db -ConnectionString $using:Pg -Schema $using:schema -Table Genre
            Get-DbSyncLog -LiteralPath $using:db -Last 1
        }
        $result, $entry = $job | Receive-Job -Wait -AutoRemoveJob
        $result.Status | Should -BeExactly 'Succeeded'
        $result.Status -eq 'Succeeded' | Should -BeTrue
        $result.Tables[0].Status -eq 'Succeeded' | Should -BeTrue
        $entry.Status -eq 'Succeeded' | Should -BeTrue
        ($result | ConvertTo-Json -Depth 1 -WarningAction SilentlyContinue | ConvertFrom-Json).Status | Should -BeExactly 'Succeeded'

        $clixml = Join-Path $TestDrive 'result.xml'
        Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre | Export-Clixml -LiteralPath $clixml
        (Import-Clixml -LiteralPath $clixml).Status -eq 'Succeeded' | Should -BeTrue
    }

    It 'prints a real plan with -WhatIf and changes nothing' {
        $before = Get-FileHashText $db
        $run = Invoke-ChildPwsh "Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema '$schema' -WhatIf"
        $run.ExitCode | Should -Be 0
        $run.Output | Should -Match 'What if: 1\. Artist -> "[^"]+"\."artist": InitialLoad \(create target\)'
        $run.Output | Should -Match '11\. PlaylistTrack .*8715 row\(s\)'
        Get-FileHashText $db | Should -Be $before
        Invoke-Pg "SELECT count(*) FROM pg_namespace WHERE nspname = '$schema'" -Scalar | Should -Be 0
        $run.Output | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'says -WhatIf -Continuous would watch, shows the first run''s plan and changes nothing' {
        $before = Get-FileHashText $db
        $run = Invoke-ChildPwsh "Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema '$schema' -Continuous -WhatIf -ErrorAction Continue"
        $run.ExitCode | Should -Be 0
        $run.Output | Should -Match "What if: Watch '.*' and sync each commit to PostgreSQL schema '$schema' until stopped\."
        $run.Output | Should -Match 'What if: 1\. Artist -> '
        Get-FileHashText $db | Should -Be $before
        Invoke-Pg "SELECT count(*) FROM pg_namespace WHERE nspname = '$schema'" -Scalar | Should -Be 0
    }

    It 'shows pending inserts, updates and deletes in the -WhatIf plan' {
        Invoke-Sqlite $db "INSERT INTO Genre (GenreId, Name) VALUES (1001, 'Unused')"
        Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema | Out-Null
        Invoke-Sqlite $db "INSERT INTO Genre (GenreId, Name) VALUES (1000, 'Pester'); UPDATE Genre SET Name = 'X' WHERE GenreId = 1; DELETE FROM Genre WHERE GenreId = 1001"
        $run = Invoke-ChildPwsh "Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema '$schema' -Table Genre -WhatIf"
        $run.Output | Should -Match 'Genre -> .*Push, 1 insert\(s\), 1 update\(s\), 1 delete\(s\)'
        $run.Output | Should -Not -Match 'Genre -> .*row\(s\)'
        (Get-DbSyncStatus -LiteralPath $db).PendingChanges | Should -Be 3
    }

    It 'throws <ErrorId> when <Case>' -ForEach @(
        @{ Case = 'the file is missing'; ErrorId = 'DbSync.SourceNotFound'; Arguments = { @{ LiteralPath = (Join-Path $TestDrive 'missing.sqlite'); ConnectionString = $Pg } } }
        @{ Case = 'a wildcard matches nothing'; ErrorId = 'DbSync.SourceNotFound'; Arguments = { @{ Path = (Join-Path $TestDrive 'nothing*.sqlite'); ConnectionString = $Pg } } }
        @{ Case = 'the file is not SQLite'; ErrorId = 'DbSync.SourceNotSqlite'; Arguments = { $t = Join-Path $TestDrive 'text.sqlite'; 'hello' | Set-Content $t; @{ LiteralPath = $t; ConnectionString = $Pg } } }
        @{ Case = 'the connection string does not parse'; ErrorId = 'DbSync.InvalidConnectionString'; Arguments = { @{ LiteralPath = $db; ConnectionString = 'Hots=x;Nonsense=1' } } }
        @{ Case = 'the server does not answer'; ErrorId = 'DbSync.TargetUnreachable'; Arguments = { @{ LiteralPath = $db; ConnectionString = 'Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=3' } } }
        @{ Case = 'a -Table pattern matches nothing'; ErrorId = 'DbSync.TableNotFound'; Arguments = { @{ LiteralPath = $db; ConnectionString = $Pg; Table = 'NoSuchTable*' } } }
        @{ Case = '-PruneBackup comes without -KeepDays'; ErrorId = 'DbSync.UsageError'; Arguments = { @{ LiteralPath = $db; ConnectionString = $Pg; PruneBackup = $true } } }
        @{ Case = '-ConflictPolicy Newest comes without -NewestColumn'; ErrorId = 'DbSync.UsageError'; Arguments = { @{ LiteralPath = $db; ConnectionString = $Pg; ConflictPolicy = 'Newest' } } }
        @{ Case = '-NewestColumn comes without -ConflictPolicy Newest'; ErrorId = 'DbSync.UsageError'; Arguments = { @{ LiteralPath = $db; ConnectionString = $Pg; ConflictPolicy = 'Fail'; NewestColumn = 'Name' } } }
        @{ Case = '-Interval comes without -Continuous'; ErrorId = 'DbSync.UsageError'; Arguments = { @{ LiteralPath = $db; ConnectionString = $Pg; Interval = 5 } } }
        @{ Case = '-LogPath is not on the file system'; ErrorId = 'DbSync.UsageError'; Arguments = { @{ LiteralPath = $db; ConnectionString = $Pg; LogPath = 'env:DBSYNC_PESTER_LOG' } } }
    ) {
        $arguments = & $Arguments
        { Start-DbSync @arguments -Schema $schema -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,DbSync.PowerShell.Commands.StartDbSyncCommand"
    }

    It 'syncs with an -Interval from $PSDefaultParameterValues, and still refuses one typed without -Continuous' {
        try {
            $PSDefaultParameterValues['Start-DbSync:Interval'] = 10
            (Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop).Status | Should -Be 'Succeeded'
            $PSDefaultParameterValues.Remove('Start-DbSync:Interval')
            { Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre -Interval 10 -ErrorAction Stop } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.StartDbSyncCommand'
        }
        finally { $PSDefaultParameterValues.Remove('Start-DbSync:Interval') }
    }

    It 'reports a path on a drive or provider that does not exist as that path''s DbSync.SourceNotFound, and syncs the files after it' {
        $results = Start-DbSync -LiteralPath 'NoSuchDrive:/shop.sqlite', 'NoSuchProvider::/shop.sqlite', $db -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction SilentlyContinue -ErrorVariable failures
        $results.Path | Should -Be $db
        $failures | Should -HaveCount 2
        $failures.FullyQualifiedErrorId | Should -Be @('DbSync.SourceNotFound,DbSync.PowerShell.Commands.StartDbSyncCommand', 'DbSync.SourceNotFound,DbSync.PowerShell.Commands.StartDbSyncCommand')
        $failures.CategoryInfo.Category | Should -Be @('ObjectNotFound', 'ObjectNotFound')
        $failures.TargetObject | Should -Be @('NoSuchDrive:/shop.sqlite', 'NoSuchProvider::/shop.sqlite')

        # -Path, with and without wildcards, from piped strings as a scheduled job reads them from a list.
        $statuses = 'NoSuchDrive:/a.sqlite', 'NoSuchDrive:/*.sqlite', $db | Get-DbSyncStatus -ErrorAction SilentlyContinue -ErrorVariable more
        $statuses.Path | Should -Be $db
        $more | Should -HaveCount 2
        $more.FullyQualifiedErrorId | Should -Be @('DbSync.SourceNotFound,DbSync.PowerShell.Commands.GetDbSyncStatusCommand', 'DbSync.SourceNotFound,DbSync.PowerShell.Commands.GetDbSyncStatusCommand')
    }

    It 'matches its error id with a trailing wildcard or through the exception''s ErrorId, as about_DbSync and README show' {
        $missing = Join-Path $TestDrive 'nowhere.sqlite'
        { Start-DbSync -LiteralPath $missing -ConnectionString $Pg -ErrorAction Stop } | Should -Throw -ErrorId 'DbSync.SourceNotFound*'
        $caught = $null
        try { Start-DbSync -LiteralPath $missing -ConnectionString $Pg -ErrorAction Stop } catch { $caught = $_ }
        $caught.Exception.ErrorId | Should -Be 'DbSync.SourceNotFound'
        $caught.FullyQualifiedErrorId | Should -BeLike 'DbSync.SourceNotFound,*'
        (Get-Help about_DbSync | Out-String) | Should -Match ([regex]::Escape("Should -Throw -ErrorId 'DbSync.SourceNotFound*'"))
        Get-Content (Join-Path $RepoRoot 'README.md') -Raw | Should -Match ([regex]::Escape("Should -Throw -ErrorId 'DbSync.SourceNotFound*'"))
    }

    It 'runs help example 5 (the scheduled job) with exit code <ExitCode> when <Case>' -ForEach @(
        @{ Case = 'the run succeeds'; ExitCode = 0; Setup = 'none' }
        @{ Case = 'the run commits but holds a row back'; ExitCode = 3; Setup = 'held' }
        @{ Case = 'the file is missing'; ExitCode = 1; Setup = 'missing' }
        @{ Case = 'the server does not answer'; ExitCode = 1; Setup = 'unreachable' }
        @{ Case = 'the connection string does not parse (terminating)'; ExitCode = 1; Setup = 'malformed' }
    ) {
        $example = (Get-Help Start-DbSync -Examples).examples.example | Where-Object title -Match 'scheduled job'
        $example | Should -HaveCount 1
        $job = Join-Path $TestDrive 'sync-job.ps1'
        # The example as printed, pointed at this test's file, module and schema.
        $file = if ($Setup -eq 'missing') { Join-Path $TestDrive 'gone.sqlite' } else { $db }
        $example.code.Replace('/data/inventory.sqlite', "'$file'").Replace('Import-Module DbSync', "Import-Module '$ModuleManifest'").Replace('$env:DBSYNC_CONNECTION', "`$env:DBSYNC_CONNECTION -Schema '$schema'") | Set-Content -LiteralPath $job
        $saved = $env:DBSYNC_CONNECTION
        $env:DBSYNC_CONNECTION = $Pg
        try {
            switch ($Setup) {
                'held' { Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema | Out-Null; Invoke-Sqlite $db "UPDATE Track SET Milliseconds = 'long' WHERE TrackId = 1" }
                'unreachable' { $env:DBSYNC_CONNECTION = 'Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2' }
                'malformed' { $env:DBSYNC_CONNECTION = 'Hots=x' }
            }
            $pwsh = Get-ChildPwsh
            $output = & $pwsh.Path @($pwsh.Leading) -NoProfile -NonInteractive -File $job 2>&1 | Out-String
            $LASTEXITCODE | Should -Be $ExitCode -Because $output
        }
        finally { $env:DBSYNC_CONNECTION = $saved }
    }

    It 'runs about_DbSync''s scheduled job script with exit code <ExitCode> when <Case>' -ForEach @(
        @{ Case = 'every file syncs'; ExitCode = 0; Setup = 'none' }
        @{ Case = 'a file held rows back'; ExitCode = 3; Setup = 'held' }
        @{ Case = 'a file is not SQLite, and the file after it still syncs'; ExitCode = 1; Setup = 'bad' }
    ) {
        $about = Get-Content -LiteralPath (Join-Path (Get-Module DbSync).ModuleBase 'en-US/about_DbSync.help.txt')
        $start = [array]::FindIndex([string[]] $about, [Predicate[string]] { param($l) $l -match '# sync-all\.ps1' })
        $end = [array]::FindIndex([string[]] $about, [Predicate[string]] { param($l) $l -match '^\s+exit 0$' })
        $start | Should -BeGreaterThan 0
        $end | Should -BeGreaterThan $start
        $folder = New-TestFolder 'shops'
        Copy-Item -LiteralPath $db (Join-Path $folder 'b.sqlite')
        if ($Setup -eq 'bad') { 'not a database' | Set-Content (Join-Path $folder 'a.sqlite') }
        if ($Setup -eq 'held') {
            Start-DbSync -LiteralPath (Join-Path $folder 'b.sqlite') -ConnectionString $Pg -Schema $schema | Out-Null
            Invoke-Sqlite (Join-Path $folder 'b.sqlite') "UPDATE Track SET Milliseconds = 'long' WHERE TrackId = 1"
        }
        $job = Join-Path $TestDrive 'sync-all.ps1'
        # The script as printed, pointed at this test's folder, module and schema.
        ($about[$start..$end] | ForEach-Object { $_ -replace '^ {8}', '' }) -join "`n" -replace '/data/shops', $folder -replace 'Import-Module DbSync', "Import-Module '$ModuleManifest'" -replace '\$env:DBSYNC_CONNECTION', "`$env:DBSYNC_CONNECTION -Schema '$schema'" | Set-Content -LiteralPath $job
        $saved = $env:DBSYNC_CONNECTION
        $env:DBSYNC_CONNECTION = $Pg
        try {
            $pwsh = Get-ChildPwsh
            $output = & $pwsh.Path @($pwsh.Leading) -NoProfile -NonInteractive -File $job 2>&1 | Out-String
            $LASTEXITCODE | Should -Be $ExitCode -Because $output
            if ($Setup -eq 'bad') { $output | Should -Match 'a\.sqlite: DbSync\.SourceNotSqlite,' }
            (Get-DbSyncStatus -LiteralPath (Join-Path $folder 'b.sqlite')).LastRun.Status.ToString() | Should -BeIn @('Succeeded', 'PartiallySucceeded')
        }
        finally { $env:DBSYNC_CONNECTION = $saved }
    }

    It 'fits its default view in an 80-column console and shows the path, and its ToString and ConvertTo-Json -EnumsAsStrings name the status' {
        $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre
        $text = $result | Out-String -Width 80
        $text -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
        $text | Should -Match "Directory: $([regex]::Escape((Split-Path $db -Parent)))"
        $text | Should -Match 'Status\s+Inserted\s+Updated\s+Deleted\s+Quarantined\s+File'
        $text | Should -Match "Succeeded\s+25\s+0\s+0\s+0\s+$([regex]::Escape((Split-Path $db -Leaf)))"
        "$result" | Should -Match "^Succeeded: 25 inserted, 0 updated, 0 deleted .*$([regex]::Escape($db))"
        ($result | ConvertTo-Json -Depth 1 -EnumsAsStrings -WarningAction SilentlyContinue | ConvertFrom-Json).Status | Should -Be 'Succeeded'
        ((Get-DbSyncLog -LiteralPath $db -Last 1) | ConvertTo-Json -EnumsAsStrings | ConvertFrom-Json).Status | Should -Be 'Succeeded'
        (Get-Help about_DbSync | Out-String) | Should -Match 'EnumsAsStrings'
    }

    It 'goes on with the next piped file after one that fails, and -ErrorAction Stop ends at it' {
        $folder = New-ShopFolder $db 'shops'
        $files = Get-ChildItem (Join-Path $folder '*.sqlite') | Sort-Object Name

        $results = $files | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction SilentlyContinue -ErrorVariable failures
        $results.Path | Split-Path -Leaf | Should -Be @('a.sqlite', 'c.sqlite')
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'DbSync.SourceNotSqlite,DbSync.PowerShell.Commands.StartDbSyncCommand'
        $failures[0].TargetObject | Should -Be (Join-Path $folder 'b.sqlite')

        Invoke-Sqlite (Join-Path $folder 'c.sqlite') "INSERT INTO Genre (GenreId, Name) VALUES (1002, 'After b')"
        { $files | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop } | Should -Throw -ErrorId 'DbSync.SourceNotSqlite,DbSync.PowerShell.Commands.StartDbSyncCommand'
        (Get-DbSyncStatus -LiteralPath (Join-Path $folder 'c.sqlite')).PendingChanges | Should -Be 1
    }

    It 'writes DbSync.RowsHeld for a table whose rows the run held back, so $? and -ErrorAction Stop see it' {
        Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema | Out-Null
        Invoke-Sqlite $db "UPDATE Track SET Milliseconds = 'long' WHERE TrackId = 1"
        $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -ErrorAction SilentlyContinue -ErrorVariable held
        $result.Status.ToString() | Should -Be 'PartiallySucceeded'
        $held | Should -HaveCount 1
        $held[0].FullyQualifiedErrorId | Should -Be 'DbSync.RowsHeld,DbSync.PowerShell.Commands.StartDbSyncCommand'
        $held[0].TargetObject.Name | Should -Be 'Track'
        $held[0].CategoryInfo.TargetName | Should -Be 'Track'
        $held[0].Exception.Message | Should -Match 'table Track: 1 row\(s\) quarantined'
        { Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -ErrorAction Stop } | Should -Throw -ErrorId 'DbSync.RowsHeld,DbSync.PowerShell.Commands.StartDbSyncCommand'
    }

    It 'resolves a relative DBSYNC_LOG_PATH against the PowerShell location, as -LogPath' {
        $folder = New-TestFolder 'logs'
        $saved = $env:DBSYNC_LOG_PATH
        Push-Location $folder
        try {
            $env:DBSYNC_LOG_PATH = 'relative-log.jsonl'
            $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre
            $result.Log.BackupPath | Should -Be (Join-Path $folder 'relative-log.jsonl')
            Test-Path (Join-Path $folder 'relative-log.jsonl') | Should -BeTrue
        }
        finally {
            Pop-Location
            $env:DBSYNC_LOG_PATH = $saved
        }
    }

    It 'takes a blank -LogPath as not given: the backup beside the file, as the CLI''s --log-path' {
        Push-Location $TestDrive
        try { $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre -LogPath '  ' }
        finally { Pop-Location }
        $result.Status.ToString() | Should -Be 'Succeeded'
        Test-Path -LiteralPath (Join-Path $TestDrive '  ') | Should -BeFalse
        (Get-Content -LiteralPath "$db-dbsync-log.jsonl" | Select-Object -Last 1 | ConvertFrom-Json).runId | Should -Be $result.RunId.ToString()
    }

    It 'names -LogPath once in the warning about a backup that is a folder' {
        $folder = New-TestFolder 'logfolder'
        $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre -LogPath $folder -WarningVariable warnings -WarningAction SilentlyContinue
        $result.Status.ToString() | Should -Be 'Succeeded'
        $text = $warnings -join "`n"
        $text | Should -Match ([regex]::Escape('is a folder, and the backup is a file (-LogPath names the file)'))
        $text | Should -Not -Match '-LogPath or -LogPath'
    }

    It 'takes a blank DBSYNC_LOG_PATH as unset, as the CLI does: the backup beside the file' {
        $folder = New-TestFolder 'blanklog'
        $saved = $env:DBSYNC_LOG_PATH
        Push-Location $folder
        try {
            $env:DBSYNC_LOG_PATH = '  '
            $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre
            $result.Log.BackupPath | Should -Be "$db-dbsync-log.jsonl"
            Test-Path -LiteralPath "$db-dbsync-log.jsonl" | Should -BeTrue
            Get-ChildItem -LiteralPath $folder -Force | Should -BeNullOrEmpty
        }
        finally {
            Pop-Location
            $env:DBSYNC_LOG_PATH = $saved
        }
    }

    It 'takes a blank -ConnectionString or DBSYNC_CONNECTION as unset, as the CLI does' {
        $saved = $env:DBSYNC_CONNECTION
        try {
            $env:DBSYNC_CONNECTION = $Pg
            (Start-DbSync -LiteralPath $db -ConnectionString '  ' -Schema $schema -Table Genre).Status.ToString() | Should -Be 'Succeeded'
            $env:DBSYNC_CONNECTION = ' '
            { Start-DbSync -LiteralPath $db -Schema $schema -Table Genre } | Should -Throw -ErrorId 'DbSync.ConnectionMissing*'
            { Start-DbSync -LiteralPath $db -ConnectionString '' -Schema $schema -Table Genre } | Should -Throw -ErrorId 'DbSync.ConnectionMissing*'
            (Get-DbSyncStatus -LiteralPath $db).TargetReachable | Should -BeNullOrEmpty
        }
        finally { $env:DBSYNC_CONNECTION = $saved }
    }

    It 'completes -Table from the file -Path names as the cmdlet resolves it: a file of exactly that name wins over the pattern' {
        $folder = Join-Path $TestDrive '[x]'
        New-Item -ItemType Directory -Path $folder -Force | Out-Null
        [System.IO.File]::Move((Copy-Chinook 'complete.sqlite'), (Join-Path $folder 's p[1].sqlite'))
        function Complete([string] $line) { (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText -join ',' }
        Push-Location -LiteralPath $TestDrive
        try {
            Complete "Start-DbSync -Path '[x]/s p[1].sqlite' -Table Inv" | Should -Be 'Invoice,InvoiceLine'
            Complete "Start-DbSync '[x]/s p[1].sqlite' -NodePartitioned Pl" | Should -Be 'Playlist,PlaylistTrack'
            Complete "Start-DbSync -LiteralPath '[x]/s p[1].sqlite' -Table Inv" | Should -Be 'Invoice,InvoiceLine'
            Complete "Start-DbSync -Path '``[x``]/s*.sqlite' -Table Med" | Should -Be 'MediaType'
            Complete "Start-DbSync -Path './nothing[1].sqlite' -Table Inv" | Should -BeNullOrEmpty
        }
        finally { Pop-Location }
    }

    It 'binds -ConflictPolicy case-insensitively, completes its values, and refuses an unknown one' {
        $before = Get-FileHashText $db
        $run = Invoke-ChildPwsh "Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema '$schema' -Table Genre -ConflictPolicy newest -NewestColumn Name -NodePartitioned Gen*, G* -WhatIf"
        $run.ExitCode | Should -Be 0
        $run.Output | Should -Match 'What if: 1\. Genre -> '
        Get-FileHashText $db | Should -Be $before
        { Start-DbSync -LiteralPath $db -ConnectionString $Pg -ConflictPolicy Sometimes } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,DbSync.PowerShell.Commands.StartDbSyncCommand'
        $completions = (TabExpansion2 -inputScript 'Start-DbSync -ConflictPolicy ' -cursorColumn 'Start-DbSync -ConflictPolicy '.Length).CompletionMatches.CompletionText
        $completions | Sort-Object | Should -Be @('Fail', 'Newest', 'SourceWins', 'TargetWins')
    }

    It 'refuses -ConflictPolicy <Value>, which PowerShell would convert to a policy, naming the parameter and its values' -ForEach @(
        @{ Value = 1 }, @{ Value = '1' }, @{ Value = 7 }, @{ Value = '5' }, @{ Value = 'SourceWins,TargetWins' }, @{ Value = ' Fail ' }
    ) {
        $before = Get-FileHashText $db
        $caught = $null
        try { Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -ConflictPolicy $Value } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'ParameterArgumentTransformationError,DbSync.PowerShell.Commands.StartDbSyncCommand'
        $caught.Exception.Message | Should -Match ([regex]::Escape('-ConflictPolicy takes exactly one of SourceWins, TargetWins, Newest, Fail, by name'))
        Get-FileHashText $db | Should -Be $before
        { Get-DbSyncQuarantine -LiteralPath $db -Retry -ConnectionString $Pg -ConflictPolicy $Value } | Should -Throw -ErrorId 'ParameterArgumentTransformationError*'
    }

    It 'is a terminating error that try/catch sees even without -ErrorAction Stop, with category and target' {
        $missing = Join-Path $TestDrive 'gone.sqlite'
        $caught = $null
        $output = try { Start-DbSync -LiteralPath $missing -ConnectionString $Pg } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'DbSync.SourceNotFound,*'
        $caught.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $caught.TargetObject | Should -Be $missing
    }

    It 'writes a DbSync.SchemaChanged error per skipped table and reports PartiallySucceeded, never success' {
        Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema | Out-Null
        Invoke-Sqlite $db "ALTER TABLE Genre DROP COLUMN Name"
        $result = Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema -ErrorVariable errors -ErrorAction SilentlyContinue
        $result.Status.ToString() | Should -Be 'PartiallySucceeded'
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'DbSync.SchemaChanged,*'
        $errors[0].TargetObject.Name | Should -Be 'Genre'
        $errors[0].CategoryInfo.TargetName | Should -Be 'Genre'
        $errors[0].Exception.Message | Should -Not -Match 'table Genre: Table'
        { Start-DbSync -Path $db -ConnectionString $Pg -Schema $schema -ErrorAction Stop } | Should -Throw -ErrorId 'DbSync.SchemaChanged,DbSync.PowerShell.Commands.StartDbSyncCommand'
        $plan = Invoke-ChildPwsh "Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema '$schema' -WhatIf"
        $plan.Output | Should -Match 'Genre -> \(not synced\): skip: '
    }

    It 'stops cleanly when the pipeline is stopped, and the next run completes the data' {
        $ps = [powershell]::Create()
        $null = $ps.AddCommand('Import-Module').AddParameter('Name', $ModuleManifest).AddStatement()
        $null = $ps.AddCommand('Start-DbSync').AddParameter('LiteralPath', $db).AddParameter('ConnectionString', $Pg).AddParameter('Schema', $schema).AddParameter('BatchSize', 50)
        $handle = $ps.BeginInvoke()
        Start-Sleep -Milliseconds 400
        $ps.Stop()
        try { $null = $ps.EndInvoke($handle) } catch { }
        $ps.Dispose()

        $last = Get-DbSyncLog -LiteralPath $db -Last 1
        if ($last) { $last.Status.ToString() | Should -BeIn @('Cancelled', 'Succeeded') }
        $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema
        $result.Status.ToString() | Should -Be 'Succeeded'
        Invoke-Pg "SELECT count(*) FROM `"$schema`".playlisttrack" -Scalar | Should -Be 8715
        (Get-DbSyncStatus -LiteralPath $db).PendingChanges | Should -Be 0
    }

    It 'keeps syncing every commit with -Continuous until the pipeline is stopped' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript('param($Module, $Db, $Pg, $Schema) Import-Module $Module; Start-DbSync -LiteralPath $Db -ConnectionString $Pg -Schema $Schema -Continuous -Interval 600')
        $null = $ps.AddArgument($ModuleManifest).AddArgument($db).AddArgument($Pg).AddArgument($schema)
        $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($output.Count -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        $output.Count | Should -Be 1

        Invoke-Sqlite $db "INSERT INTO Genre (GenreId, Name) VALUES (1001, 'Live')"
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ($output.Count -lt 2 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        $ps.Stop()
        try { $null = $ps.EndInvoke($handle) } catch { }
        $ps.Dispose()

        $output.Count | Should -Be 2
        $output[1].Inserted | Should -Be 1
        Invoke-Pg "SELECT count(*) FROM `"$schema`".genre WHERE genreid = 1001" -Scalar | Should -Be 1
        (Get-DbSyncLog -LiteralPath $db | Where-Object { $_.Status.ToString() -eq 'Running' }) | Should -BeNullOrEmpty
    }

    It 'shows each -Continuous run''s progress and completes the bar when the run ends' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript('param($Module, $Db, $Pg, $Schema) Import-Module $Module; Start-DbSync -LiteralPath $Db -ConnectionString $Pg -Schema $Schema -Continuous -Interval 600')
        $null = $ps.AddArgument($ModuleManifest).AddArgument($db).AddArgument($Pg).AddArgument($schema)
        $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($output.Count -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        $records = @($ps.Streams.Progress)
        $ps.Stop()
        try { $null = $ps.EndInvoke($handle) } catch { }
        $ps.Dispose()

        $output.Count | Should -Be 1
        @($records | Where-Object RecordType -eq 'Processing').Count | Should -BeGreaterThan 3
        $records[0].Activity | Should -BeLike 'Start-DbSync -Continuous *'
        $records[-1].RecordType | Should -Be 'Completed'
    }

    It 'ends -Continuous when Select-Object -First has the runs it wants' {
        $run = Invoke-ChildPwsh "`$r = Start-DbSync -LiteralPath '$db' -ConnectionString '$Pg' -Schema '$schema' -Continuous -Interval 600 -ErrorAction Continue | Select-Object -First 1; 'first: ' + `$r.Status" -TimeoutSeconds 60
        $run.Output | Should -Match 'first: Succeeded'
        $run.ExitCode | Should -Be 0
        (Get-DbSyncLog -LiteralPath $db | Where-Object { $_.Status.ToString() -eq 'Running' }) | Should -BeNullOrEmpty
    }

    It 'refuses -Continuous for a second piped file instead of watching only the first' {
        $other = Copy-Chinook ("other-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        $run = Invoke-ChildPwsh "try { '$db', '$other' | Start-DbSync -ConnectionString '$Pg' -Schema '$schema' -Continuous -ErrorAction Continue } catch { 'caught: ' + `$_.FullyQualifiedErrorId }" -TimeoutSeconds 60
        $run.Output | Should -Match 'caught: DbSync\.UsageError'
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeFalse
    }

    It 'counts and names every file piped to -Continuous, each once, and syncs none of them' {
        $files = 1..3 | ForEach-Object { Copy-Chinook ("watch$_-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite') }
        $caught = $null
        try { $files + $files[0] | Start-DbSync -ConnectionString $Pg -Schema $schema -Continuous -ErrorAction Continue } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'DbSync.UsageError,*'
        $caught.Exception.Message | Should -Match '-Continuous watches one file, and 3 were given'
        foreach ($file in $files) {
            $caught.Exception.Message | Should -Match ([regex]::Escape("'$file'"))
            (Get-DbSyncStatus -LiteralPath $file).CaptureEnabled | Should -BeFalse
        }
    }

    It 'refuses -Continuous under $ErrorActionPreference Stop, which would end the watch at the first failed run' {
        # Invoke-ChildPwsh sets $ErrorActionPreference = 'Stop', as about_DbSync's job scripts do.
        $run = Invoke-ChildPwsh "try { Start-DbSync -LiteralPath '$db' -ConnectionString 'Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2' -Schema '$schema' -Continuous } catch { 'caught: ' + `$_.FullyQualifiedErrorId + ': ' + `$_ }" -TimeoutSeconds 60
        $run.Output | Should -Match '(?s)caught: DbSync\.UsageError,.*-ErrorAction Continue to keep watching'
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeFalse
        try {
            $PSDefaultParameterValues['Start-DbSync:ErrorAction'] = 'Stop'
            { Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Continuous } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.StartDbSyncCommand'
        }
        finally { $PSDefaultParameterValues.Remove('Start-DbSync:ErrorAction') }
    }

    It 'keeps retrying -Continuous -ErrorAction Continue under $ErrorActionPreference Stop' {
        $run = Invoke-ChildPwsh "Start-DbSync -LiteralPath '$db' -ConnectionString 'Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2' -Schema '$schema' -Continuous -Interval 1 -ErrorAction Continue 2>&1 | Select-Object -First 3 | ForEach-Object { 'failed: ' + `$_.FullyQualifiedErrorId }" -TimeoutSeconds 60
        # Three failed runs, each written as an error and retried: the watch went on until Select-Object ended it.
        ([regex]::Matches($run.Output, 'failed: DbSync\.TargetUnreachable')).Count | Should -Be 3
    }

    It 'keeps the per-table details of results received from Start-Job' {
        # A job serializes its output to depth 1 unless the type says more (DbSync.types.ps1xml).
        $received = Start-Job -ArgumentList $ModuleManifest, $db, $Pg, $schema -ScriptBlock {
            param($Module, $Db, $Pg, $Schema)
            Import-Module $Module
            Start-DbSync -LiteralPath $Db -ConnectionString $Pg -Schema $Schema -Table Genre, Artist
            Get-DbSyncLog -LiteralPath $Db -Last 1
            Get-DbSyncStatus -LiteralPath $Db -Detailed | Select-Object -First 1
        } | Receive-Job -Wait -AutoRemoveJob
        $result, $entry, $status = $received
        $result.PSObject.TypeNames[0] | Should -Be 'Deserialized.DbSync.Core.SyncResult'
        @($result.Tables).Count | Should -Be 2
        ($result.Tables | Where-Object Name -eq 'Artist').Status | Should -Be 'Succeeded'
        ($result.Tables | Where-Object Name -eq 'Artist').Inserted | Should -Be 275
        @($result.Tables | Where-Object Status -eq 'Succeeded').Count | Should -Be 2
        @($entry.Tables).Count | Should -Be 2
        ($entry.Tables | Where-Object Name -eq 'Artist').Inserted | Should -Be 275
        @($status.LastRun.Tables | Where-Object Name -eq 'Artist').Count | Should -Be 1
    }

    It 'ends -Continuous -ErrorAction Stop with the first failed run''s error' {
        $run = Invoke-ChildPwsh "try { Start-DbSync -LiteralPath '$db' -ConnectionString 'Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2' -Schema '$schema' -Continuous -ErrorAction Stop } catch { 'caught: ' + `$_.FullyQualifiedErrorId }" -TimeoutSeconds 60
        $run.Output | Should -Match 'caught: DbSync\.TargetUnreachable'
    }

    It 'shows one percentage for the whole run that never goes back, and completes the progress bar' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', $ModuleManifest).AddStatement()
            $null = $ps.AddCommand('Start-DbSync').AddParameters(@{ LiteralPath = $db; ConnectionString = $Pg; Schema = $schema })
            $result = $ps.Invoke()
            $ps.HadErrors | Should -BeFalse
            $result.Status | Should -Be 'Succeeded'
            $records = @($ps.Streams.Progress)
            $percents = @($records | Where-Object RecordType -eq 'Processing' | ForEach-Object PercentComplete | Where-Object { $_ -ge 0 })
            $percents.Count | Should -BeGreaterThan 11
            ($percents -join ',') | Should -Be (($percents | Sort-Object) -join ',')
            $percents | Should -Contain 100
            $records[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
    }

    It 'names DbSync''s own files piped from a folder and leaves nothing new beside them, run after run' {
        $folder = Join-Path $TestDrive ("shops-" + [guid]::NewGuid().ToString('N').Substring(0, 6))
        New-Item -ItemType Directory -Path $folder | Out-Null
        Copy-Item -LiteralPath $db -Destination (Join-Path $folder 'shop.sqlite')
        foreach ($run in 1..3) {
            Get-ChildItem -LiteralPath $folder -File | Start-DbSync -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction SilentlyContinue -ErrorVariable failed | Out-Null
        }
        (Get-ChildItem -LiteralPath $folder -File).Name | Sort-Object | Should -Be @('shop.sqlite', 'shop.sqlite-dbsync-log.jsonl', 'shop.sqlite-dbsync-log.jsonl.lock', 'shop.sqlite-dbsync.lock')
        $failed | Should -Not -BeNullOrEmpty
        $failed | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'DbSync.SourceNotSqlite,*' }
        "$($failed[0])" | Should -Match "is (DbSync's run lock file|DbSync's run log backup|the lock file of DbSync's run log backup)"
    }

    It 'takes parameters from a splatted .psd1 settings file' {
        $settingsPath = Join-Path $TestDrive 'sync.psd1'
        "@{ LiteralPath = '$db'; Schema = '$schema'; Table = @('Genre', 'MediaType'); BatchSize = 10 }" | Set-Content $settingsPath
        $settings = Import-PowerShellDataFile $settingsPath
        $result = Start-DbSync @settings -ConnectionString $Pg
        $result.Tables.Name | Sort-Object | Should -Be @('Genre', 'MediaType')
    }

    It 'has a conceptual help topic, about_DbSync' {
        $topic = Get-Help about_DbSync
        ($topic | Out-String) | Should -Match 'SCHEDULED JOBS'
        ($topic | Out-String) | Should -Match 'Start-DbSync'
    }
}
